"""Factories for test data. Objects are saved through the models, so their signals fire as in production."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Point, Polygon

from tracker.models import AreaOfInterest, Incident, Severity


def square(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> Polygon:
    """Return the WGS 84 rectangle with those corners."""
    polygon = Polygon.from_bbox((min_lon, min_lat, max_lon, max_lat))
    polygon.srid = 4326
    return polygon


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    name = factory.Sequence(lambda n: f"Incident {n}")
    description = "Something happened."
    severity = Severity.MEDIUM
    location = factory.LazyFunction(lambda: Point(10.5, 10.5, srid=4326))


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AreaOfInterest

    name = factory.Sequence(lambda n: f"Area {n}")
    threshold = Severity.MEDIUM
    polygon = factory.LazyFunction(lambda: square(10, 10, 11, 11))
