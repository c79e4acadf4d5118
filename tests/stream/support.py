"""What the stream tests share: an ASGI server whose send the test controls, and writes whose publish is lost."""

from django.db import transaction

from tests.factories import IncidentFactory
from tracker.stream import eventlog


def with_send_hook(app, hook):
    """Return an ASGI app that runs `app` and awaits `hook(message)` before each message `app` sends: the test
    plays a server whose send takes its time (a full TCP window) or lets other work run at that moment."""

    async def hooked(scope, receive, send):
        async def hooked_send(message):
            await hook(message)
            await send(message)

        await app(scope, receive, hooked_send)

    return hooked


def write_unpublished(names: list[str]) -> None:
    """Report one incident per name, each logged but with its publish lost (as while Redis restarts)."""
    original = eventlog.publish
    eventlog.publish = lambda events: None
    try:
        for name in names:
            with transaction.atomic():
                IncidentFactory(name=name)
    finally:
        eventlog.publish = original
