"""REST endpoints under /api/v1/. Thin: reads come from querysets and selectors, every write goes through
tracker.services, so a write here logs, broadcasts and alerts exactly as an admin edit does."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from tracker import selectors, services
from tracker.stream import replay
from tracker.api.exceptions import GEOMETRY, ResyncRequired, validation_error
from tracker.api.filters import AlertFilterSet, AreaFilterSet, IncidentClusterFilterSet, IncidentFilterSet
from tracker.api.pagination import FeaturePagination, PageNumberPagination, int_param
from tracker.api.permissions import OwnerOrStaffCanChange, StaffCanCreate
from tracker.api.schema import AggregateSchema, ErrorSerializer, EventPageSerializer
from tracker.api.serializers import (
    AlertSerializer,
    AreaSerializer,
    ClusterCollectionSerializer,
    IncidentSerializer,
    NewIncidentSerializer,
    PublicReportSerializer,
)
from tracker.api.throttling import ReportRateThrottle
from tracker.models import MAX_ID, Alert, AreaOfInterest, Incident

EVENTS_DEFAULT_LIMIT = 500
EVENTS_MAX_LIMIT = 1000


@contextmanager
def service_errors(geo_field: str):
    """Turn a model-level ValidationError from a service into a 400 naming the API's fields."""
    try:
        yield
    except DjangoValidationError as error:
        raise validation_error(error, renames={geo_field: GEOMETRY}) from None


class FeatureViewSet(viewsets.ModelViewSet):
    """CRUD on one GeoJSON feature type through its service functions (base class)."""

    pagination_class = FeaturePagination
    filter_backends = (DjangoFilterBackend,)
    owner_field: str

    def get_queryset(self):
        queryset = super().get_queryset()
        # An update or delete locks the row for its read-modify-write: two concurrent PATCHes of different
        # properties both land instead of the second overwriting the first with what it had read.
        # By action, not by method: an OPTIONS request asks for the PUT form on a cloned request (DRF metadata)
        # outside any transaction, where a lock is an error.
        if self.action in ("update", "partial_update", "destroy"):
            queryset = queryset.select_for_update(of=("self",))
        return queryset

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().destroy(request, *args, **kwargs)

    def get_success_headers(self, data) -> dict:
        return {"Location": reverse(f"{self.basename}-detail", args=[data["id"]], request=self.request)}

    def write(self, service, **kwargs):
        with service_errors(self.get_serializer_class().Meta.geo_field):
            return service(**kwargs)


@extend_schema_view(
    list=extend_schema(summary="Incidents as a paginated GeoJSON FeatureCollection"),
    retrieve=extend_schema(summary="One incident"),
    create=extend_schema(
        summary="Report an incident (it is open; you are its reporter)",
        request=NewIncidentSerializer,
        responses={201: IncidentSerializer},
    ),
    update=extend_schema(summary="Replace an incident (its reporter or staff)"),
    partial_update=extend_schema(summary="Change some properties of an incident (its reporter or staff)"),
    destroy=extend_schema(summary="Delete an incident (its reporter or staff)"),
)
class IncidentViewSet(FeatureViewSet):
    """Incidents (GeoJSON Point Features). Any logged-in user may report one; its reporter or staff may change
    or delete it. Writes are GeoJSON Features, like reads."""

    queryset = Incident.objects.select_related("reporter")
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilterSet
    permission_classes = (IsAuthenticated, OwnerOrStaffCanChange)
    owner_field = "reporter"

    def get_serializer_class(self):
        return NewIncidentSerializer if self.action == "create" else IncidentSerializer

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("status", None)  # always open; NewIncidentSerializer refuses anything else
        serializer.instance = self.write(services.incident_report, reporter=self.request.user, **data)

    def perform_update(self, serializer):
        serializer.instance = self.write(
            services.incident_update, incident=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.incident_delete(incident=instance)


@extend_schema_view(
    list=extend_schema(summary="Areas of interest as a paginated GeoJSON FeatureCollection"),
    retrieve=extend_schema(summary="One area of interest"),
    create=extend_schema(summary="Draw an area of interest (staff only; you are its owner)"),
    update=extend_schema(summary="Replace an area (its owner or staff)"),
    partial_update=extend_schema(summary="Change some properties of an area (its owner or staff)"),
    destroy=extend_schema(summary="Delete an area and its alerts (its owner or staff)"),
)
class AreaViewSet(FeatureViewSet):
    """Areas of interest (GeoJSON Polygon Features). Staff draw them; the owner or staff may change or delete
    one. Open incidents inside an area at or above its threshold raise alerts."""

    queryset = AreaOfInterest.objects.select_related("owner")
    serializer_class = AreaSerializer
    filterset_class = AreaFilterSet
    permission_classes = (IsAuthenticated, StaffCanCreate, OwnerOrStaffCanChange)
    owner_field = "owner"

    def perform_create(self, serializer):
        serializer.instance = self.write(services.area_create, owner=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = self.write(services.area_update, area=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.area_delete(area=instance)


class IncidentClustersView(generics.GenericAPIView):
    """The incidents of a map view grouped into grid cells about 32 px wide at its zoom level, for drawing
    large numbers of incidents: a GeoJSON FeatureCollection of one Point per non-empty cell, at the centroid
    of its incidents, with how many there are, the highest severity and how many are open. The incident
    filters apply as in the list; the top-level `count` is what the list would count for the same filters."""

    queryset = Incident.objects.all()
    filter_backends = (DjangoFilterBackend,)
    filterset_class = IncidentClusterFilterSet
    pagination_class = None
    schema = AggregateSchema()

    @extend_schema(summary="Incidents of a map view, clustered on a grid", responses=ClusterCollectionSerializer)
    def get(self, request):
        filterset = DjangoFilterBackend().get_filterset(request, self.get_queryset(), self)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        cell = selectors.cluster_cell_degrees(filterset.form.cleaned_data["zoom"])
        clusters = selectors.incident_clusters(filterset.qs, cell_degrees=cell)
        return Response(ClusterCollectionSerializer(clusters).data)


class AreaIncidentsView(generics.ListAPIView):
    """The incidents inside an area (or on its boundary), in any state and severity, with the incident
    filters; a paginated GeoJSON FeatureCollection."""

    queryset = Incident.objects.none()  # names the model for the schema; get_queryset() gives the rows
    serializer_class = IncidentSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = IncidentFilterSet
    pagination_class = FeaturePagination

    @extend_schema(summary="The incidents inside an area")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        area = get_object_or_404(AreaOfInterest, pk=self.kwargs["pk"])
        return selectors.incidents_in_area(area).select_related("reporter")


@extend_schema_view(
    list=extend_schema(summary="Alerts, newest first"),
    retrieve=extend_schema(summary="One alert"),
)
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts: an open incident at or above an area's threshold inside that area. Any logged-in user may
    acknowledge one."""

    queryset = Alert.objects.select_related("incident", "area", "acknowledged_by")
    filter_backends = (DjangoFilterBackend,)
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    pagination_class = PageNumberPagination

    @extend_schema(request=None, summary="Acknowledge an alert (records who and when; again changes nothing)")
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = services.alert_acknowledge(alert=self.get_object(), user=request.user)
        return Response(self.get_serializer(alert).data)


class EventLogView(APIView):
    """The event log after `after`, in id order: the same envelopes the WebSocket pushes.

    `last_event_id` is where to resume: the id of the last envelope returned, or the newest event's id when
    there is nothing newer. While `next` is not null there are more events; follow it (it asks for
    after=last_event_id). Whether `after` can be resumed from is decided by the WebSocket's rule
    (tracker.stream.replay.resume_from): a 410 with code "resync" means it was pruned from the log, is more
    than TRACKER_REPLAY_LIMIT events behind, or is ahead of the log; refetch the incidents, areas and alerts,
    then continue from the 410's `last_event_id`.
    """

    @extend_schema(
        summary="Replay the event log",
        parameters=[
            OpenApiParameter(
                "after",
                {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_ID, "default": 0},
                description="Return the events with id > after.",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": EVENTS_MAX_LIMIT, "default": EVENTS_DEFAULT_LIMIT},
                description="The most envelopes returned.",
            ),
        ],
        responses={
            200: EventPageSerializer,
            410: OpenApiResponse(
                ErrorSerializer,
                description="`after` was pruned, is too far behind or is ahead of the log: resync, then resume "
                "from `last_event_id`.",
            ),
        },
    )
    def get(self, request):
        after = int_param(request, "after", default=0, minimum=0, maximum=MAX_ID)
        limit = int_param(request, "limit", default=EVENTS_DEFAULT_LIMIT, maximum=EVENTS_MAX_LIMIT)
        position = replay.resume_from(after)
        if position.resync:
            raise ResyncRequired(position.last)
        results = replay.events_after(after, upto=position.last, limit=limit)
        resume = results[-1]["id"] if results else position.last
        more = resume < position.last
        return Response(
            {
                "results": results,
                "last_event_id": resume,
                "next": replace_query_param(request.build_absolute_uri(), "after", resume) if more else None,
            }
        )


class ReportView(generics.CreateAPIView):
    """The public report form as an API: no login, rate-limited per client address. Creates an open incident
    marked as publicly reported, with no reporter. Only the geometry and the name, description and severity
    properties are read; status and the read-only properties are ignored, unknown ones refused."""

    serializer_class = PublicReportSerializer
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (ReportRateThrottle,)

    @extend_schema(summary="Report an incident anonymously", auth=[])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer):
        with service_errors(PublicReportSerializer.Meta.geo_field):
            serializer.instance = services.incident_report(reported_publicly=True, **serializer.validated_data)
