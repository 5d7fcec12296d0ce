"""Shared helpers for queue tests: rows in a given state, and real sandbox sessions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from instances.models import Instance
from queueing.models import QueuedMessage
from worker.transports.base import CONNECTED, Session, SessionSpec

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
    from worker.transports.sandbox import SandboxTransport

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
    # The simulated dial takes the configured latency, like every other action.
    events = session.poll(now + timedelta(milliseconds=behaviour.get("latency_ms", 0)))
    assert any(e.kind == CONNECTED for e in events), events
    return session


def race(target: Callable[..., Any], args: list[tuple[Any, ...]], timeout: float = 120) -> list[Any]:
    """Run target(*a) for each `a` in its own thread, all released at once; return the results.

    Each thread has its own database connection (as separate workers or requests would) and
    closes it, so the test database can be dropped afterwards."""
    barrier = threading.Barrier(len(args))
    results: list[Any] = [None] * len(args)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target(*args[index])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(args))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    if errors:
        raise errors[0]
    return results
