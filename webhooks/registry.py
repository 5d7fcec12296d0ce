"""Deliverer processes as the database knows them: registration and heartbeats (progress).

`serve` restarts a deliverer child whose heartbeat stops, as it does a worker's; /health and the
dashboard show them.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime

from webhooks.models import Deliverer


def register(deliverer_id: str, now: datetime) -> None:
    Deliverer.objects.update_or_create(
        deliverer_id=deliverer_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": now,
            "heartbeat_at": now,
            "stopped_at": None,
        },
    )


def beat(deliverer_id: str, now: datetime) -> None:
    Deliverer.objects.filter(deliverer_id=deliverer_id).update(heartbeat_at=now, stopped_at=None)


def mark_stopped(deliverer_id: str, now: datetime) -> None:
    Deliverer.objects.filter(deliverer_id=deliverer_id).update(stopped_at=now)


def last_heartbeat(deliverer_id: str) -> datetime | None:
    return Deliverer.objects.filter(deliverer_id=deliverer_id).values_list("heartbeat_at", flat=True).first()
