"""Read-only figures about instances and workers for /health and the dashboard (fixed query count)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum

from instances.models import Instance, WorkerProcess
from instances.worker_registry import is_stalled

CONNECTING_STATUSES = (Instance.Status.STARTING, Instance.Status.CONNECTING, Instance.Status.QR_PENDING)


def instance_summary() -> dict[str, int]:
    """Counts over all instances in one aggregate query."""
    row = Instance.objects.aggregate(
        total=Count("id"),
        running=Count("id", filter=Q(desired_state=Instance.Desired.RUNNING)),
        connected=Count("id", filter=Q(status=Instance.Status.CONNECTED)),
        running_not_connected=Count(
            "id", filter=Q(desired_state=Instance.Desired.RUNNING) & ~Q(status=Instance.Status.CONNECTED)
        ),
        connecting=Count("id", filter=Q(status__in=CONNECTING_STATUSES)),
        retry_attempts=Sum("retry_attempts"),
    )
    return {key: int(value or 0) for key, value in row.items()}


def worker_summary(now: datetime) -> dict[str, Any]:
    """The freshest worker heartbeat (a heartbeat is a completed pass of the worker's loop).

    `alive`: it beat within one lease TTL. `progressing`: within WAZIPER_WORKER_STALL_S, the
    limit after which `serve` restarts its worker; past it, `stalled_since` is that heartbeat.
    """
    latest = WorkerProcess.objects.filter(stopped_at__isnull=True).order_by("-heartbeat_at").first()
    if latest is None:
        return {
            "alive": False,
            "progressing": False,
            "stalled_since": None,
            "last_heartbeat": None,
            "worker_id": None,
            "instances_held": 0,
        }
    alive = latest.heartbeat_at >= now - timedelta(seconds=settings.WAZIPER_LEASE_TTL)
    stalled = is_stalled(latest.heartbeat_at, now, settings.WAZIPER_WORKER_STALL_S)
    return {
        "alive": alive,
        "progressing": not stalled,
        "stalled_since": latest.heartbeat_at.isoformat() if stalled else None,
        "last_heartbeat": latest.heartbeat_at.isoformat(),
        "worker_id": latest.worker_id,
        "instances_held": latest.instances_held if alive else 0,
    }
