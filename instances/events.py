"""The event outbox: the one function every app calls to report a change.

Web processes tail the outbox to push changes to browsers (docs/architecture.md, "The outbox").
On PostgreSQL each writing transaction also sends one NOTIFY, delivered at commit, so readers
that LISTEN (live/relay.py) wake at once instead of at their next poll.

Apps above this one may add listeners: functions called with each new event inside the
transaction that writes it, so what they write (webhook deliveries) commits or rolls back with
the event. `instances` never imports them; they register themselves in their AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from instances.models import Instance, InstanceEvent
from kernel import pg_listen

NOTIFY_CHANNEL = "waziper_events"

EventListener = Callable[[InstanceEvent], object]
_listeners: list[EventListener] = []


def add_listener(listener: EventListener) -> None:
    """Call `listener(event)` for every event, in the event's transaction. Idempotent."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_listener(listener: EventListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit_event(
    instance: Instance | int, kind: str, payload: dict[str, Any], *, now: datetime | None = None
) -> InstanceEvent:
    """Append one event for `instance`. Call it inside the transaction that made the change.

    A listener that raises makes this raise too: the caller's transaction rolls back, the change
    with it, rather than committing a change whose consequences were lost."""
    instance_pk = instance if isinstance(instance, int) else instance.pk
    if _listeners and not connection.in_atomic_block:
        # Called outside a transaction: make the event and what listeners write one.
        with transaction.atomic():
            return _emit(instance_pk, kind, payload, now)
    return _emit(instance_pk, kind, payload, now)


def _emit(instance_pk: int, kind: str, payload: dict[str, Any], now: datetime | None) -> InstanceEvent:
    event = InstanceEvent.objects.create(
        instance_id=instance_pk, kind=kind, payload=payload, created_at=now or timezone.now()
    )
    for listener in _listeners:
        listener(event)
    pg_listen.notify(NOTIFY_CHANNEL)
    return event
