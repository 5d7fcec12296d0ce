"""The event outbox: the one function every app calls to report a change.

Web processes tail the outbox to push changes to browsers (docs/architecture.md, "The outbox").
On PostgreSQL each writing transaction also sends one NOTIFY, delivered at commit, so readers
that LISTEN (live/relay.py) wake at once instead of at their next poll.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from instances.models import Instance, InstanceEvent
from kernel import pg_listen

NOTIFY_CHANNEL = "waziper_events"


def emit_event(
    instance: Instance | int, kind: str, payload: dict[str, Any], *, now: datetime | None = None
) -> InstanceEvent:
    """Append one event for `instance`. Call it inside the transaction that made the change."""
    instance_pk = instance if isinstance(instance, int) else instance.pk
    event = InstanceEvent.objects.create(
        instance_id=instance_pk, kind=kind, payload=payload, created_at=now or timezone.now()
    )
    pg_listen.notify(NOTIFY_CHANNEL)
    return event
