"""`manage.py prune_events [--hours H]`: trim the event log to the retention window (run hourly, see
deploy/systemd/tracker-prune.timer). Clients resuming from a pruned position are told to resync."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tracker.stream import eventlog


class Command(BaseCommand):
    help = "Delete events older than TRACKER['EVENT_RETENTION_HOURS'] (the newest event is always kept)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours",
            type=float,
            default=None,
            help="Retention in hours (default: TRACKER['EVENT_RETENTION_HOURS']).",
        )

    def handle(self, *args, hours: float | None, **options):
        hours = settings.TRACKER["EVENT_RETENTION_HOURS"] if hours is None else hours
        if hours < 0:
            raise CommandError("--hours must be >= 0")
        deleted = eventlog.prune(timezone.now() - timedelta(hours=hours))
        self.stdout.write(f"pruned {deleted} event(s) older than {hours:g} h")
