from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tracker.health import healthz
from tracker.security.csp import inline_style_sources

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("tracker.api.urls")),
    # Public, like any API's documentation: the schema names endpoints and shapes, never data.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the Content-Security-Policy forbids inline scripts.
    # Its page's one <style> block is allowed by its hash, on this page only.
    path(
        "api/docs/",
        csp_update({"style-src": inline_style_sources(SpectacularSwaggerSplitView.template_name)})(
            SpectacularSwaggerSplitView.as_view(url_name="schema")
        ),
        name="swagger-ui",
    ),
    # The pages: dashboard at /, report, incident list and detail.
    path("", include("tracker.urls")),
]
