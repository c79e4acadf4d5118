"""Page routes (included at the site root by tracker_project.urls)."""

from django.urls import path

from tracker import views

# Namespaced: the API router already uses names such as "incident-list" and "report".
app_name = "tracker"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("report/", views.report, name="report"),
    path("incidents/", views.incident_list, name="incident-list"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident-detail"),
]
