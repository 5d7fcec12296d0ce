"""Asking a live WhatsApp session a question from the web side (its groups, whether numbers are on
WhatsApp, its own profile, …).

The web process never touches a socket: it writes a `query` command with a deadline, the worker
holding the instance runs it in the session and writes the answer, and the request waits for it
with a bound (instances/commands.py). An instance no worker holds, or one that is not
connected, is refused at once with its state and when to retry; an answer that does not come in
time cancels the command, so the session never runs it late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from breaker import service as breaker_service
from instances import commands
from instances.models import Instance, InstanceCommand
from instances.service import is_held_by_live_worker

# When to try again if the instance is on its way to connected (or nobody holds it yet).
RETRY_WHILE_CONNECTING_S = 5


class SessionUnavailable(Exception):
    """No live session can answer now. `retry_after_s` is None when only a person can help
    (logged out, stopped, breaker forced open)."""

    def __init__(self, status: str, reason: str, retry_after_s: int | None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


class SessionTimeout(Exception):
    """The session did not answer within the bound; the question was cancelled."""


class SessionRefused(Exception):
    """The session answered with an error (WhatsApp said no, or the question was not valid).
    `code` is a short machine-readable reason, e.g. `not_found`, `forbidden`, `unsupported`."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Availability:
    available: bool
    status: str
    reason: str = ""
    retry_after_s: int | None = None


# Statuses that wait for a person: asking again later changes nothing by itself.
_NEEDS_A_PERSON = (Instance.Status.STOPPED, Instance.Status.LOGGED_OUT, Instance.Status.QR_EXPIRED)


def availability(instance: Instance, now: datetime) -> Availability:
    """Can a session answer for `instance` now, and if not, why and when to ask again."""
    instance.refresh_from_db(fields=["status", "desired_state", "worker_id", "lease_expires_at"])
    status = instance.status
    if status == Instance.Status.CONNECTED and is_held_by_live_worker(instance, now):
        return Availability(True, status)
    look = breaker_service.outlook(instance, now)
    if not look.allows_connect:
        return Availability(False, status, "the instance's circuit breaker is open", look.retry_after_s)
    if status in _NEEDS_A_PERSON or instance.desired_state != Instance.Desired.RUNNING:
        return Availability(False, status, f"the instance is {status}: start it and link a phone", None)
    if status == Instance.Status.QR_PENDING:
        return Availability(False, status, "the instance waits for a QR scan", None)
    if status == Instance.Status.CONNECTED:
        return Availability(False, status, "no worker holds the instance", RETRY_WHILE_CONNECTING_S)
    return Availability(False, status, f"the instance is {status}", RETRY_WHILE_CONNECTING_S)


def ask(
    instance: Instance,
    op: str,
    args: dict[str, Any] | None = None,
    *,
    timeout: float | None = None,
    now: datetime | None = None,
    forget: bool = False,
) -> Any:
    """Run `op` in the instance's live session and return its answer's data. With `forget`, the
    answer is not kept in the command's row once read (a download's bytes).

    Raises SessionUnavailable, SessionTimeout or SessionRefused.
    """
    return ask_many(instance, op, [args or {}], timeout=timeout, now=now, forget=forget)[0]


def ask_many(
    instance: Instance,
    op: str,
    args_list: list[dict[str, Any]],
    *,
    timeout: float | None = None,
    now: datetime | None = None,
    forget: bool = False,
) -> list[Any]:
    """Put several questions to the instance's live session at once (the worker takes them all
    on one tick) and wait for every answer under one bound; return their data in order.

    Raises SessionUnavailable, SessionTimeout or SessionRefused, for the first question that
    was not answered; the unanswered ones are cancelled.
    """
    now = now or timezone.now()
    timeout = settings.WAZIPER_SESSION_QUERY_TIMEOUT if timeout is None else timeout
    state = availability(instance, now)
    if not state.available:
        raise SessionUnavailable(state.status, state.reason, state.retry_after_s)
    deadline = now + timedelta(seconds=timeout)
    pks = [
        commands.send(
            instance, InstanceCommand.Kind.QUERY, {"op": op, "args": args}, deadline=deadline, now=now
        ).pk
        for args in args_list
    ]
    results = commands.wait_for_all(pks, timeout)
    late = [pk for pk in pks if pk not in results]
    cancelled = [pk for pk in late if commands.cancel(pk, "no answer in time", timezone.now())]
    if cancelled:
        raise SessionTimeout(f"the session did not answer within {timeout:g}s")
    results.update(commands.results_of(late))  # the answers that came as we gave up
    if forget:
        for pk in pks:
            commands.forget_result(pk)
    return [_data(instance, results.get(pk) or {}) for pk in pks]


def _data(instance: Instance, result: dict[str, Any]) -> Any:
    if "error" in result:
        code = str(result.get("code") or "")
        if code == "unavailable":
            raise SessionUnavailable(instance.status, str(result["error"]), RETRY_WHILE_CONNECTING_S)
        raise SessionRefused(str(result["error"]), code)
    return result.get("data")
