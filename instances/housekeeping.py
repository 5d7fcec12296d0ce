"""The instances app's share of the worker's periodic cleanup, and session-store removal.

Each function changes only this app's tables or the sessions directory; worker/cleanup.py
calls them together with the breaker's and the queue's.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings

from instances.models import Instance, InstanceCommand, InstanceEvent, is_instance_id

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


def finish_orphaned_commands(live_workers: Iterable[str], now: datetime) -> int:
    """Commands taken by a worker that died would otherwise never finish."""
    return (
        InstanceCommand.objects.filter(finished_at__isnull=True, taken_at__isnull=False)
        .exclude(taken_by__in=list(live_workers))
        .update(finished_at=now, result={"error": "the worker holding the instance stopped"})
    )


# A command's answer is read by the request that waits for it, within seconds; an hour more is
# for someone looking at it in the admin. Answers to questions hold group members and numbers.
FINISHED_COMMAND_RETENTION = timedelta(hours=1)


def prune_commands(now: datetime) -> int:
    """Finished commands, and their answers, once nobody needs them any more."""
    before = now - FINISHED_COMMAND_RETENTION
    return InstanceCommand.objects.filter(finished_at__lt=before).delete()[0]


def clear_stale_leases(now: datetime) -> int:
    """Stopped instances whose lease lapsed: clear the stale owner so /health and the admin are
    honest."""
    return (
        Instance.objects.filter(lease_expires_at__lt=now)
        .exclude(worker_id="")
        .update(worker_id="", lease_expires_at=None)
    )


def prune_events(now: datetime) -> int:
    before = now - timedelta(days=settings.WAZIPER_EVENT_RETENTION_DAYS)
    return InstanceEvent.objects.filter(created_at__lt=before).delete()[0]


def remove_orphan_stores() -> int:
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
