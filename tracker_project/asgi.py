"""ASGI entry point: HTTP through Django, WebSockets through Channels with origin and auth checks."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker_project.settings")
# Initialise Django (apps, models) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from tracker.security.auth import BrowserOriginValidator, TokenOrSessionAuthMiddlewareStack  # noqa: E402
from tracker.health import UnavailableGuard  # noqa: E402
from tracker.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The guard is outermost so that a database or Redis outage during authentication closes the socket
        # with 4503 (retry later) instead of an opaque error.
        "websocket": UnavailableGuard(
            BrowserOriginValidator(TokenOrSessionAuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
