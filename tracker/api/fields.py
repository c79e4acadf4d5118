"""Serializer fields shared by the API and the event envelopes."""

from rest_framework import serializers

from tracker.models import Severity


class SeverityField(serializers.ChoiceField):
    """Reads and writes a severity as its lowercase name ("info" ... "urgent"); stores the ordered integer."""

    def __init__(self, **kwargs):
        super().__init__(choices=Severity.labels, **kwargs)

    def to_internal_value(self, data) -> int:
        name = super().to_internal_value(data)
        return int(Severity.from_name(name))

    def to_representation(self, value) -> str:
        return Severity(value).label
