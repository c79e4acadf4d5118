"""Signal receivers: every save or delete of an incident or area, from any path, is logged, broadcast after
commit and checked against the alert rule; deleting or renaming a user pushes every feature that shows its name. Thin by design: the work is in tracker.stream.eventlog and tracker.services.
Connected in TrackerConfig.ready() with dispatch_uids, so they are connected exactly once. They run inside
the transaction LiveModel.save/delete opens, so a change, its event and its alerts commit together.
"""

from tracker import services
from tracker.stream import eventlog
from tracker.models import Alert, AreaOfInterest, EventOp, Incident


def _op(created: bool) -> str:
    return EventOp.CREATED if created else EventOp.UPDATED


def incident_saved(sender, instance: Incident, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:  # loaddata: fixtures are not live changes
        return
    # The incident's event first in the log, then its alerts', in one record (one pending batch).
    change = eventlog.incident_change(instance, _op(created))
    eventlog.record_many([change, *services.sync_incident_alerts(instance, created=created, feature=change[2])])


def incident_deleted(sender, instance: Incident, **kwargs) -> None:
    eventlog.record_incident(instance, EventOp.DELETED)


def area_saved(sender, instance: AreaOfInterest, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    change = eventlog.area_change(instance, _op(created))
    eventlog.record_many([change, *services.sync_area_alerts(instance)])


def area_deleted(sender, instance: AreaOfInterest, **kwargs) -> None:
    eventlog.record_area(instance, EventOp.DELETED)


def alert_deleted(sender, instance: Alert, origin=None, **kwargs) -> None:
    # An alert deleted with its incident or area needs no event (clients drop the alerts of a deleted feature);
    # one deleted by itself (the admin, a shell) does.
    if not isinstance(origin, Incident | AreaOfInterest) and getattr(origin, "model", None) not in (
        Incident,
        AreaOfInterest,
    ):
        eventlog.record_alerts(instance.incident, [instance], EventOp.DELETED)


def user_deleting(sender, instance, **kwargs) -> None:
    # pre_delete, not post_delete: by post_delete Django's SET_NULL has already hidden which rows named the user.
    services.user_deleting(instance)


def user_saving(sender, instance, raw: bool = False, update_fields=None, **kwargs) -> None:
    # Remember a rename for user_saved: after the save the old username is gone. A login saves last_login
    # only, so it costs no query.
    renamed = False
    if not raw and instance.pk is not None and (update_fields is None or "username" in update_fields):
        old = type(instance).objects.filter(pk=instance.pk).values_list("username", flat=True).first()
        renamed = old is not None and old != instance.get_username()
    instance._tracker_renamed = renamed


def user_saved(sender, instance, **kwargs) -> None:
    if getattr(instance, "_tracker_renamed", False):
        instance._tracker_renamed = False
        services.user_renamed(instance)


def connect() -> None:
    """Connect the receivers; idempotent thanks to the dispatch_uids."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

    post_save.connect(incident_saved, sender=Incident, dispatch_uid="tracker.incident_saved")
    post_delete.connect(incident_deleted, sender=Incident, dispatch_uid="tracker.incident_deleted")
    post_save.connect(area_saved, sender=AreaOfInterest, dispatch_uid="tracker.area_saved")
    post_delete.connect(area_deleted, sender=AreaOfInterest, dispatch_uid="tracker.area_deleted")
    post_delete.connect(alert_deleted, sender=Alert, dispatch_uid="tracker.alert_deleted")
    User = get_user_model()
    pre_delete.connect(user_deleting, sender=User, dispatch_uid="tracker.user_deleting")
    pre_save.connect(user_saving, sender=User, dispatch_uid="tracker.user_saving")
    post_save.connect(user_saved, sender=User, dispatch_uid="tracker.user_saved")
