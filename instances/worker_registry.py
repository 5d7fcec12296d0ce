"""Worker processes as the database knows them: registration, heartbeats, and who is alive.

A heartbeat is written when a pass of the worker's loop completed without an error, so it means
progress, not merely a running process. /health reads the heartbeats (and says when the newest
is older than WAZIPER_WORKER_STALL_S); `serve` restarts a worker child that stalled that long;
cleanup uses them to tell a dead worker's leftovers from a live one's work in progress.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from django.conf import settings

from instances.models import WorkerProcess


def register(worker_id: str, capacity: int, now: datetime) -> None:
    WorkerProcess.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "capacity": capacity,
            "started_at": now,
            "heartbeat_at": now,
            "stopped_at": None,
        },
    )


def is_stalled(last_progress: datetime, now: datetime, stall_s: float) -> bool:
    """Has a worker whose loop last completed a pass at `last_progress` stalled by `now`?
    A wall clock stepped back (last_progress in the future) is not a stall."""
    return (now - last_progress).total_seconds() >= stall_s


def last_heartbeat(worker_id: str) -> datetime | None:
    """The worker's last recorded progress; None if it never registered."""
    return WorkerProcess.objects.filter(worker_id=worker_id).values_list("heartbeat_at", flat=True).first()


def beat(worker_id: str, instances_held: int, now: datetime) -> None:
    WorkerProcess.objects.filter(worker_id=worker_id).update(
        heartbeat_at=now, instances_held=instances_held, stopped_at=None
    )


def mark_stopped(worker_id: str, now: datetime) -> None:
    WorkerProcess.objects.filter(worker_id=worker_id).update(stopped_at=now, instances_held=0)


def dead_workers(now: datetime) -> list[str]:
    """Workers that stopped beating for three lease TTLs without saying goodbye."""
    cutoff = now - timedelta(seconds=3 * settings.WAZIPER_LEASE_TTL)
    return list(
        WorkerProcess.objects.filter(stopped_at__isnull=True, heartbeat_at__lt=cutoff).values_list(
            "worker_id", flat=True
        )
    )


def mark_dead(worker_ids: list[str], now: datetime) -> int:
    return WorkerProcess.objects.filter(worker_id__in=worker_ids).update(stopped_at=now)


def live_worker_ids() -> set[str]:
    return set(WorkerProcess.objects.filter(stopped_at__isnull=True).values_list("worker_id", flat=True))
