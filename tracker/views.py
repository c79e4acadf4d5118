"""HTML pages: the live dashboard, the public report page, and the incident list and detail pages.

Thin: reads come from tracker.selectors; the two map pages are shells that the browser code (frontend/)
fills in over the REST API and the WebSocket. Their settings travel in a JSON <script> block
(`json_script`), never in inline JavaScript, so the Content Security Policy can forbid inline script.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from tracker import selectors
from tracker.forms import IncidentListFilter
from tracker.models import Incident

INCIDENTS_PER_PAGE = 25
NOTIFICATIONS_PATH = "/ws/notifications/"  # tracker.routing


def map_config(request) -> dict:
    """Return the settings both map pages hand to the browser code: API root, tiles, start view, CSRF token."""
    return {
        "api": reverse("api-root"),
        "tileUrl": settings.TILE_URL,
        "tileAttribution": settings.TILE_ATTRIBUTION,
        "csrfToken": get_token(request),
        "center": list(settings.MAP_CENTER),
        "zoom": settings.MAP_ZOOM,
    }


@login_required
def dashboard(request):
    """The live map: incidents, areas, alerts. Staff also get the area drawing tools (`isStaff`)."""
    user = request.user
    config = {
        **map_config(request),
        "ws": NOTIFICATIONS_PATH,
        "user": {"id": user.pk, "username": user.get_username(), "isStaff": user.is_staff},
    }
    return render(request, "tracker/dashboard.html", {"config": config})


def report(request):
    """The public report form (no login): the browser posts it to the API's report endpoint and shows the
    confirmation in place."""
    return render(request, "tracker/report.html", {"config": map_config(request)})


@login_required
def incident_list(request):
    """Incidents newest first, a page at a time, filtered by status, severity and text (GET). Unknown filter
    values are a 400 naming the field, not silently ignored."""
    form = IncidentListFilter(request.GET)
    if not form.is_valid():
        return render(request, "tracker/incident_list.html", {"form": form, "page": None}, status=400)
    paginator = Paginator(selectors.incidents_listed(**form.selector_arguments()), INCIDENTS_PER_PAGE)
    # get_page: a page number past the end or malformed shows the last or first page rather than an error.
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "tracker/incident_list.html", {"form": form, "page": page})


@login_required
def incident_detail(request, pk: int):
    """One incident with the areas it lies in and its alerts."""
    incident = get_object_or_404(Incident.objects.select_related("reporter"), pk=pk)
    context = {
        "incident": incident,
        "areas": selectors.areas_covering(incident.location),
        "alerts": selectors.alerts_of(incident),
    }
    return render(request, "tracker/incident_detail.html", context)
