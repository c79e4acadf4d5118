"""Loads demo data and a demo login, only into an empty database, so running it again changes nothing."""

from django.contrib.auth import get_user_model
from django.contrib.gis.geos import Polygon
from django.core.management.base import BaseCommand
from django.db import transaction

from tracker import selectors, services
from tracker.models import AreaOfInterest, Incident, Severity

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-tracker"

# Around Buenos Aires, where the original demo was set.
DEMO_AREAS = [
    ("Microcentro", Severity.MEDIUM, (-58.3850, -34.6100, -58.3700, -34.6000)),
    ("Palermo", Severity.HIGH, (-58.4400, -34.5900, -58.4100, -34.5700)),
    ("La Boca", Severity.LOW, (-58.3700, -34.6400, -58.3550, -34.6300)),
]
DEMO_INCIDENTS = [
    ("Water main burst", "Flooding on Florida street.", Severity.HIGH, (-58.3775, -34.6040)),
    ("Traffic light out", "Corner of Corrientes and 9 de Julio.", Severity.LOW, (-58.3816, -34.6037)),
    ("Gas smell reported", "Residents evacuated as a precaution.", Severity.URGENT, (-58.4250, -34.5800)),
    ("Fallen tree", "Blocking one lane.", Severity.MEDIUM, (-58.3620, -34.6350)),
    ("Power outage", "Several blocks without power.", Severity.HIGH, (-58.4600, -34.6200)),
]


class Command(BaseCommand):
    help = "Create the demo user (staff) and demo incidents/areas if the database has none."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        if not Incident.objects.exists() and not AreaOfInterest.objects.exists():
            for name, threshold, bbox in DEMO_AREAS:
                polygon = Polygon.from_bbox(bbox)
                polygon.srid = 4326
                services.area_create(name=name, polygon=polygon, threshold=threshold, owner=user)
            for name, description, severity, (lon, lat) in DEMO_INCIDENTS:
                services.incident_report(
                    name=name, description=description, severity=severity,
                    location=selectors.point(lon, lat), reporter=user,
                )
            self.stdout.write("Loaded demo incidents and areas.")
        self.stdout.write(f"Demo login: username {DEMO_USERNAME!r}, password {DEMO_PASSWORD!r}")
