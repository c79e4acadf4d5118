"""Routes of /api/v1/ (included by tracker_project.urls)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from tracker.api import views



class Router(DefaultRouter):
    include_format_suffixes = False  # no ".json" routes: JSON is the only format


router = Router()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("areas", views.AreaViewSet, basename="area")
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = [
    path("events/", views.EventLogView.as_view(), name="event-log"),
    path("report/", views.ReportView.as_view(), name="report"),
    # Before the router's routes, whose incidents/<pk>/ would take "clusters" for an id.
    path("incidents/clusters/", views.IncidentClustersView.as_view(), name="incident-clusters"),
    path("areas/<int:pk>/incidents/", views.AreaIncidentsView.as_view(), name="area-incidents"),
    *router.urls,
]
