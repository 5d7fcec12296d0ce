"""The verbs that control an instance across apps: start, stop, log out, scan, and reset the
breaker and wake the worker.

Every entry point (the API, the admin and its dashboard, the management commands) goes through
these, so a verb means the same thing wherever a person or a script says it
(docs/architecture.md, "Layers").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from breaker import service as breaker_service
from breaker.models import BreakerReset
from instances import service as instances_service
from instances.models import Instance, InstanceCommand


def reset_breaker_and_wake(
    instance: Instance,
    *,
    source: str,
    user: Any = None,
    actor: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> BreakerReset:
    """Close the breaker (recorded with who and why) and ask the worker holding the instance to
    connect now rather than after the backoff it had scheduled."""
    now = now or timezone.now()
    record = breaker_service.reset(instance, source=source, now=now, user=user, actor=actor, reason=reason)
    instances_service.nudge_reconnect(instance, now)
    return record


# What force_retry found.
SESSION_EXISTS = "session_exists"
CONNECTING = "connecting"
STARTED = "started"


def force_retry(instance: Instance, *, user: Any = None, now: datetime | None = None) -> str:
    """Close the breaker (recorded as an API reset) and connect now: SESSION_EXISTS if a worker
    holds a connected session already, CONNECTING if its connection is under way, else STARTED
    (the session is asked for and the worker dials at once)."""
    now = now or timezone.now()
    reset_breaker_and_wake(instance, source=BreakerReset.Source.API, user=user, reason="force retry", now=now)
    instance.refresh_from_db(fields=["status", "desired_state", "worker_id", "lease_expires_at"])
    held = instances_service.is_held_by_live_worker(instance, now)
    if held and instance.status == Instance.Status.CONNECTED:
        return SESSION_EXISTS
    if held and instance.status in (Instance.Status.STARTING, Instance.Status.CONNECTING):
        return CONNECTING
    start(instance, now=now)
    return STARTED


def start(instance: Instance, *, now: datetime | None = None) -> bool:
    """Ask for a session and for the worker to dial now. Return True if it was stopped."""
    changed = instances_service.request_running(instance)
    instances_service.nudge_reconnect(instance, now or timezone.now())
    return changed


def stop(instance: Instance) -> bool:
    """Ask the holding worker to close the session. Return True if it was running."""
    return instances_service.request_stopped(instance)


def start_for_qr(instance: Instance, *, user: Any, now: datetime) -> bool:
    """A person asks for a QR code: close an open breaker (recorded as a QR-request reset) and
    start the session. Return True if a breaker was reset."""
    was_open = breaker_service.is_open(instance)
    if was_open:
        breaker_service.reset(
            instance, source=BreakerReset.Source.QR_REQUEST, now=now, user=user, reason="manual QR request"
        )
    instances_service.request_running(instance)
    instances_service.nudge_reconnect(instance, now)
    return was_open


def logout(instance: Instance, *, now: datetime | None = None) -> InstanceCommand | None:
    """Unlink the phone and delete the session store; None when done here, else the command the
    holding worker carries out."""
    return instances_service.logout(instance, now=now)


def simulate_scan(instance: Instance, *, now: datetime | None = None) -> None:
    """A sandbox instance's simulated phone scans the QR code it is shown."""
    instances_service.request_sandbox_scan(instance, now)
