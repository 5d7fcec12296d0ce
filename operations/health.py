"""The gateway's health figures, read across apps: GET /health, `manage.py health` and the
dashboard's Health page show the same numbers.

Cost is a fixed handful of aggregate queries whatever the number of instances.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from breaker.stats import open_breaker_count, recent_failure_count
from instances.stats import instance_summary, worker_summary
from queueing.stats import queue_summary
from webhooks.stats import webhook_summary


def health_score(*, running: int, running_not_connected: int, open_breakers: int, worker_alive: bool) -> int:
    """0–100, higher is healthier.

    Shares, not counts, so the score means the same for 3 instances and 3,000 (a fixed penalty
    per open breaker would put any fleet with seven broken phones at 0): −40 × share of running
    instances not connected, −30 × share of running instances whose breaker is open, −30 when no
    worker is alive (then nothing can connect or send, however the rows look). Stopped instances
    are deliberate and do not count.
    """
    score = 100.0
    if running > 0:
        score -= 40.0 * min(running_not_connected, running) / running
        score -= 30.0 * min(open_breakers, running) / running
    if not worker_alive:
        score -= 30.0
    return max(0, min(100, round(score)))


def health_payload() -> dict[str, Any]:
    now = timezone.now()
    instances = instance_summary()
    open_breakers = open_breaker_count()
    worker = worker_summary(now)
    queue = queue_summary()
    return {
        "status": "success",
        "message": "Server is running",
        "data": {
            "server_status": "running",
            "total_instances": instances["total"],
            "active_connections": instances["connected"],
            "connecting": instances["connecting"],
            "circuit_breaker_activations": open_breakers,
            "total_retry_attempts": instances["retry_attempts"],
            "total_recent_failures": recent_failure_count(now),
            "health_score": health_score(
                running=instances["running"],
                running_not_connected=instances["running_not_connected"],
                open_breakers=open_breakers,
                # A worker that stopped making progress connects and sends nothing either.
                worker_alive=worker["alive"] and worker["progressing"],
            ),
            "worker": worker,
            "queue": queue,
            "webhooks": webhook_summary(now),
        },
        "timestamp": now.isoformat().replace("+00:00", "Z"),
    }
