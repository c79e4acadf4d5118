"""Admin: incidents and areas edited on a Leaflet map (django-leaflet serves Leaflet itself, no CDN).

Saves go through the model's save(), so admin edits fire the same signals, events and alerts as the API.
"""

from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from tracker.models import Alert, AreaOfInterest, Event, Incident


@admin.register(Incident)
class IncidentAdmin(LeafletGeoAdmin):
    list_display = ("name", "severity", "status", "reporter", "reported_publicly", "created_at")
    list_filter = ("severity", "status", "reported_publicly")
    search_fields = ("name", "description")
    date_hierarchy = "created_at"
    raw_id_fields = ("reporter",)


@admin.register(AreaOfInterest)
class AreaOfInterestAdmin(LeafletGeoAdmin):
    list_display = ("name", "threshold", "owner", "created_at")
    list_filter = ("threshold",)
    search_fields = ("name",)
    raw_id_fields = ("owner",)


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("incident", "area", "created_at", "acknowledged_at", "acknowledged_by", "cleared_at")
    list_filter = ("acknowledged_at", "cleared_at")
    list_select_related = ("incident", "area", "acknowledged_by")
    readonly_fields = ("incident", "area", "created_at", "cleared_at", "acknowledged_at", "acknowledged_by")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The log is append-only: viewable here, never edited."""

    list_display = ("id", "type", "op", "created_at")
    list_filter = ("type", "op")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
