"""Signal receivers: every save or delete of an incident or area, from any path, is logged, broadcast after
commit and checked against the alert rule. Thin by design: the work is in tracker.stream.eventlog and tracker.services.
Connected in TrackerConfig.ready() with dispatch_uids, so they are connected exactly once. They run inside
the transaction LiveModel.save/delete opens, so a change, its event and its alerts commit together.
"""

from tracker import services
from tracker.stream import eventlog
from tracker.models import AreaOfInterest, EventOp, Incident


def _op(created: bool) -> str:
    return EventOp.CREATED if created else EventOp.UPDATED


def incident_saved(sender, instance: Incident, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:  # loaddata: fixtures are not live changes
        return
    event = eventlog.record_incident(instance, _op(created))
    services.sync_incident_alerts(instance, feature=event.envelope["feature"])


def incident_deleted(sender, instance: Incident, **kwargs) -> None:
    eventlog.record_incident(instance, EventOp.DELETED)


def area_saved(sender, instance: AreaOfInterest, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    eventlog.record_area(instance, _op(created))
    services.sync_area_alerts(instance)


def area_deleted(sender, instance: AreaOfInterest, **kwargs) -> None:
    eventlog.record_area(instance, EventOp.DELETED)


def connect() -> None:
    """Connect the receivers; idempotent thanks to the dispatch_uids."""
    from django.db.models.signals import post_delete, post_save

    post_save.connect(incident_saved, sender=Incident, dispatch_uid="tracker.incident_saved")
    post_delete.connect(incident_deleted, sender=Incident, dispatch_uid="tracker.incident_deleted")
    post_save.connect(area_saved, sender=AreaOfInterest, dispatch_uid="tracker.area_saved")
    post_delete.connect(area_deleted, sender=AreaOfInterest, dispatch_uid="tracker.area_deleted")
