"""Commands from the web side to the worker holding an instance, and their answers.

The web writes an `InstanceCommand` row; the worker holding the instance takes it (a
conditional UPDATE on `taken_at`), carries it out in the session and writes `finished_at` and
`result`; the web waits for that with a bound. A command may carry a `deadline`: the worker does
not start it after that, and a web request that stops waiting cancels it, so it never runs late
(docs/architecture.md, "The database is the only channel").

On PostgreSQL each finish sends a NOTIFY whose payload is the command's id, so a waiting web
request wakes at once (`wait_for`); elsewhere it looks once per WAZIPER_EVENT_POLL_MS.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from instances.models import Instance, InstanceCommand
from kernel import pg_listen, waiting

NOTIFY_CHANNEL = "waziper_commands"
# A worker answers most commands on the tick it takes them, tens of milliseconds after they
# were written: the waiting request looks again this soon at first, then less and less often.
FIRST_LOOK_S = 0.005


def send(
    instance: Instance,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    deadline: datetime | None = None,
    now: datetime | None = None,
) -> InstanceCommand:
    """Queue a command for the worker holding `instance` (it takes it within one tick)."""
    return InstanceCommand.objects.create(
        instance=instance,
        kind=kind,
        payload=payload or {},
        created_at=now or timezone.now(),
        deadline=deadline,
    )


def newest_id() -> int:
    """The newest command's id (0 when there is none): one look at the primary key's index, for
    a worker that wants to know, between ticks, whether anything was asked."""
    # Raw SQL: the worker asks this every few milliseconds while idle, and building a queryset
    # would cost more than the query.
    with connection.cursor() as cursor:
        cursor.execute(_NEWEST_SQL)
        row = cursor.fetchone()
    return int(row[0] or 0) if row else 0


_NEWEST_SQL = f"SELECT MAX(id) FROM {InstanceCommand._meta.db_table}"


def pending_for(instance_pks: Iterable[int]) -> list[InstanceCommand]:
    """Commands nobody has taken yet, for the instances a worker holds, oldest first."""
    return list(
        InstanceCommand.objects.filter(
            finished_at__isnull=True, taken_at__isnull=True, instance_id__in=list(instance_pks)
        ).order_by("id")
    )


def take(command: InstanceCommand, worker_id: str, now: datetime) -> bool:
    """Claim `command` for `worker_id`. Only one claimant wins, on any database."""
    taken = InstanceCommand.objects.filter(
        pk=command.pk, taken_at__isnull=True, finished_at__isnull=True
    ).update(taken_by=worker_id, taken_at=now)
    return taken == 1


def finish(command_pk: int, result: dict[str, Any], now: datetime) -> bool:
    """Write the answer, unless the command already finished (answered, or cancelled by a web
    request that stopped waiting). Return True if this call finished it."""
    finished = InstanceCommand.objects.filter(pk=command_pk, finished_at__isnull=True).update(
        finished_at=now, result=result
    )
    if finished:
        pg_listen.notify(NOTIFY_CHANNEL, str(command_pk))
    return finished == 1


def cancel(command_pk: int, reason: str, now: datetime) -> bool:
    """Finish an unanswered command with an error so the worker never runs it late. Return True
    if it was cancelled here, False if an answer came first."""
    return finish(command_pk, {"error": reason, "code": "cancelled"}, now)


def forget_result(command_pk: int) -> None:
    """Drop a finished command's answer once its asker has read it: an answer that carries a
    download's bytes must not stay in the table."""
    InstanceCommand.objects.filter(pk=command_pk, finished_at__isnull=False).update(
        result={"forgotten": True}
    )


def result_of(command_pk: int) -> dict[str, Any] | None:
    """The answer, or None while the command is unfinished."""
    row = InstanceCommand.objects.filter(pk=command_pk, finished_at__isnull=False).values("result").first()
    return None if row is None else (row["result"] or {})


def results_of(command_pks: list[int]) -> dict[int, dict[str, Any]]:
    """The answers of those of `command_pks` that finished, by pk."""
    rows = InstanceCommand.objects.filter(pk__in=command_pks, finished_at__isnull=False).values_list(
        "pk", "result"
    )
    return {pk: result or {} for pk, result in rows}


def wait_for_all(command_pks: list[int], timeout: float) -> dict[int, dict[str, Any]]:
    """The answers of `command_pks`, waiting up to `timeout` seconds for all of them; those
    that did not come are missing from the result."""
    _ensure_listener()
    answered: dict[int, dict[str, Any]] = {}

    def all_answered() -> dict[int, dict[str, Any]] | None:
        answered.update(results_of([pk for pk in command_pks if pk not in answered]))
        return answered if len(answered) == len(command_pks) else None

    waiting.poll(
        all_answered, timeout, interval=settings.WAZIPER_EVENT_POLL_MS / 1000, first_interval=FIRST_LOOK_S
    )
    return answered


def wait_for(command_pk: int, timeout: float) -> dict[str, Any] | None:
    """The command's answer, waiting up to `timeout` seconds; None if it did not come."""
    _ensure_listener()
    return waiting.poll(
        lambda: result_of(command_pk),
        timeout,
        interval=settings.WAZIPER_EVENT_POLL_MS / 1000,
        first_interval=FIRST_LOOK_S,
    )


# One listener per process (started by the first waiter on PostgreSQL): a finish anywhere wakes
# every request of this process that is waiting, and each looks at its own row once.
_listener: pg_listen.Listener | None = None
_listener_lock = threading.Lock()


def _ensure_listener() -> None:
    global _listener
    if _listener is not None or not pg_listen.notify_supported():
        return
    with _listener_lock:
        if _listener is None:
            _listener = pg_listen.Listener(NOTIFY_CHANNEL, lambda _payload: waiting.wake_all())
            _listener.start()
