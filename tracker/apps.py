from django.apps import AppConfig


class TrackerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tracker"

    def ready(self) -> None:
        from tracker import signals
        from tracker.security import login_rate, revocation

        signals.connect()
        login_rate.connect()
        revocation.connect()
