"""The worker's periodic cleanup (every WAZIPER_CLEANUP_INTERVAL), and session-store removal."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime, timedelta

from django.conf import settings

from breaker.models import FailureEvent
from instances.models import Instance, InstanceCommand, InstanceEvent, WorkerProcess, is_instance_id

logger = logging.getLogger("waziper.cleanup")


def remove_session_store(instance_id: str) -> bool:
    """Delete sessions/<instance_id>/ (logout, deleted instance). Only well-formed ids, so a bad
    value can never walk out of the sessions directory."""
    if not is_instance_id(instance_id):
        return False
    path = os.path.join(settings.WAZIPER_SESSIONS_DIR, instance_id)
    if not os.path.isdir(path):
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


def dead_workers(now: datetime) -> list[str]:
    """Workers that stopped beating for three lease TTLs without saying goodbye."""
    cutoff = now - timedelta(seconds=3 * settings.WAZIPER_LEASE_TTL)
    return list(
        WorkerProcess.objects.filter(stopped_at__isnull=True, heartbeat_at__lt=cutoff).values_list(
            "worker_id", flat=True
        )
    )


def run_cleanup(worker_id: str, now: datetime) -> dict[str, int]:
    """Return what was cleaned, for the log line."""
    counts: dict[str, int] = {}
    dead = dead_workers(now)
    if dead:
        counts["dead_workers"] = WorkerProcess.objects.filter(worker_id__in=dead).update(stopped_at=now)
    live = set(WorkerProcess.objects.filter(stopped_at__isnull=True).values_list("worker_id", flat=True)) | {
        worker_id
    }
    from queueing.dispatch import resolve_orphans

    counts["orphaned_messages"] = resolve_orphans(live, now)
    # Commands taken by a worker that died would otherwise never finish.
    counts["orphaned_commands"] = (
        InstanceCommand.objects.filter(finished_at__isnull=True, taken_at__isnull=False)
        .exclude(taken_by__in=live)
        .update(finished_at=now, result={"error": "the worker holding the instance stopped"})
    )
    # Stopped instances whose lease lapsed: clear the stale owner so /health and the admin are honest.
    counts["stale_leases"] = (
        Instance.objects.filter(lease_expires_at__lt=now)
        .exclude(worker_id="")
        .update(worker_id="", lease_expires_at=None)
    )
    failures_before = now - timedelta(days=settings.WAZIPER_FAILURE_RETENTION_DAYS)
    counts["failures_pruned"] = FailureEvent.objects.filter(at__lt=failures_before).delete()[0]
    events_before = now - timedelta(days=settings.WAZIPER_EVENT_RETENTION_DAYS)
    counts["events_pruned"] = InstanceEvent.objects.filter(created_at__lt=events_before).delete()[0]
    counts["session_stores_removed"] = _remove_orphan_stores()
    logger.info("🧹 cleanup: %s", ", ".join(f"{k}={v}" for k, v in counts.items() if v) or "nothing to do")
    return counts


def _remove_orphan_stores() -> int:
    """Session stores of instances that no longer exist, or that were logged out."""
    root = settings.WAZIPER_SESSIONS_DIR
    if not os.path.isdir(root):
        return 0
    try:
        names = [name for name in os.listdir(root) if is_instance_id(name)]
    except OSError as exc:  # unreadable sessions directory: report it, never crash-loop on it
        logger.error("cleanup: cannot list %s: %s", root, exc)
        return 0
    keep = set(
        Instance.objects.filter(instance_id__in=names)
        .exclude(status=Instance.Status.LOGGED_OUT)
        .values_list("instance_id", flat=True)
    )
    removed = 0
    for name in names:
        if name not in keep and remove_session_store(name):
            removed += 1
    return removed
