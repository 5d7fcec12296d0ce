"""The event outbox: the one function every app calls to report a change to the browsers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from instances.live.wakeup import notify_event_written
from instances.models import Instance, InstanceEvent


def emit_event(
    instance: Instance | int, kind: str, payload: dict[str, Any], *, now: datetime | None = None
) -> InstanceEvent:
    """Append one event for `instance`. Call it inside the transaction that made the change."""
    instance_pk = instance if isinstance(instance, int) else instance.pk
    event = InstanceEvent.objects.create(
        instance_id=instance_pk, kind=kind, payload=payload, created_at=now or timezone.now()
    )
    notify_event_written()  # PostgreSQL: wakes every web process's relay at commit
    return event

