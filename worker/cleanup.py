"""The worker's periodic cleanup (every WAZIPER_CLEANUP_INTERVAL): each app prunes its own
tables through its own functions; this only puts them in order and logs what was done."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings

from breaker import service as breaker_service
from directory import cache as directory_cache
from directory import changes as directory_changes
from inbox import service as inbox_service
from instances import housekeeping, sandbox_phone, throttling, worker_registry
from queueing.dispatch import resolve_orphans

logger = logging.getLogger("waziper.cleanup")


def run_cleanup(worker_id: str, now: datetime) -> dict[str, int]:
    """Return what was cleaned, for the log line."""
    counts: dict[str, int] = {}
    dead = worker_registry.dead_workers(now)
    if dead:
        counts["dead_workers"] = worker_registry.mark_dead(dead, now)
    live = worker_registry.live_worker_ids() | {worker_id}
    counts["orphaned_messages"] = resolve_orphans(live, now)
    counts["orphaned_commands"] = housekeeping.finish_orphaned_commands(live, now)
    counts["commands_pruned"] = housekeeping.prune_commands(now)
    counts["stale_leases"] = housekeeping.clear_stale_leases(now)
    counts["failures_pruned"] = breaker_service.prune_failures(now)
    counts["events_pruned"] = housekeeping.prune_events(now)
    counts["inbox_pruned"] = inbox_service.prune(now)
    counts["sandbox_incoming_pruned"] = sandbox_phone.prune(now)
    counts["session_stores_removed"] = housekeeping.remove_orphan_stores()
    counts["throttle_buckets_pruned"] = throttling.prune_buckets(now)
    counts["directory_pruned"] = directory_cache.prune(
        now,
        groups_max_age_s=settings.WAZIPER_GROUPS_CACHE_S,
        numbers_max_age_s=settings.WAZIPER_NUMBER_CHECK_CACHE_S,
    )
    counts["contacts_pruned"] = directory_changes.prune_contacts(now)
    logger.info("🧹 cleanup: %s", ", ".join(f"{k}={v}" for k, v in counts.items() if v) or "nothing to do")
    return counts
