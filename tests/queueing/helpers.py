"""Shared helpers for queue tests: rows in a given state, and real sandbox sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from instances.models import Instance
from instances.runtime.transports.base import CONNECTED, Session, SessionSpec
from queueing.models import QueuedMessage

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MID = lambda: 0.5  # noqa: E731  (no jitter)


def queue_message(instance: Instance, chat_id: str = "6281234567890", **fields: Any) -> QueuedMessage:
    fields.setdefault("text", "hello")
    fields.setdefault("created_at", T0)
    fields.setdefault("not_before", fields["created_at"])
    return QueuedMessage.objects.create(instance=instance, chat_id=chat_id, **fields)


def queue_many(instance: Instance, n: int, **fields: Any) -> list[QueuedMessage]:
    return [queue_message(instance, f"62812{i:08d}", text=f"message {i}", **fields) for i in range(n)]


def statuses(instance: Instance) -> dict[str, int]:
    out: dict[str, int] = {}
    for status in QueuedMessage.objects.filter(instance=instance).values_list("status", flat=True):
        out[status] = out.get(status, 0) + 1
    return out


def connected_session(instance: Instance, now: datetime = T0, **behaviour: Any) -> Session:
    """A real sandbox session for `instance`, linked and connected at `now`."""
    from instances.runtime.transports.sandbox import SandboxTransport

    behaviour.setdefault("linked", True)
    behaviour.setdefault("seed", 7)
    spec = SessionSpec(
        instance_pk=instance.pk,
        instance_id=instance.instance_id,
        proxy_url="",
        session_dir=instance.session_dir(),
        sandbox=behaviour,
    )
    session = SandboxTransport().open_session(spec)
    session.connect(now)
    events = session.poll(now + timedelta(seconds=1))
    assert any(e.kind == CONNECTED for e in events), events
    return session
