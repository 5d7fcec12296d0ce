"""Read-only webhook figures for /metrics, /health and the dashboard (a fixed number of queries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, Sum

from webhooks.models import Deliverer, WebhookDelivery

Status = WebhookDelivery.Status
# Not finished yet: the backlog.
WAITING = (Status.PENDING, Status.FAILED, Status.DELIVERING)


def attempts_total() -> int:
    return int(WebhookDelivery.objects.aggregate(n=Sum("attempts"))["n"] or 0)


@dataclass(frozen=True)
class Backlog:
    endpoint_id: int
    url: str
    waiting: int
    oldest_age_s: float  # how long the oldest undelivered one has waited since its event


def backlogs(now: datetime) -> list[Backlog]:
    """Per endpoint with anything undelivered: how much waits, and how long the oldest has."""
    rows = (
        WebhookDelivery.objects.filter(status__in=WAITING)
        .values("endpoint_id", "endpoint__url")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by("endpoint_id")
    )
    return [
        Backlog(
            row["endpoint_id"],
            row["endpoint__url"],
            row["n"],
            max(0.0, (now - row["oldest"]).total_seconds()),
        )
        for row in rows
    ]


def deliverer_summary(now: datetime) -> dict[str, Any]:
    """The freshest deliverer heartbeat: alive if it beat within one lease TTL of the webhooks."""
    latest = Deliverer.objects.filter(stopped_at__isnull=True).order_by("-heartbeat_at").first()
    if latest is None:
        return {"alive": False, "last_heartbeat": None, "deliverer_id": None}
    alive = latest.heartbeat_at >= now - timedelta(seconds=settings.WAZIPER_WEBHOOK_LEASE_TTL)
    return {
        "alive": alive,
        "last_heartbeat": latest.heartbeat_at.isoformat(),
        "deliverer_id": latest.deliverer_id,
    }


def webhook_summary(now: datetime) -> dict[str, Any]:
    """/health's webhook figures (two queries): backlog, its oldest wait, dead deliveries, and
    whether a deliverer is alive."""
    waiting = Q(status__in=WAITING)
    row = WebhookDelivery.objects.aggregate(
        backlog=Count("pk", filter=waiting),
        oldest=Min("created_at", filter=waiting),
        dead=Count("pk", filter=Q(status=Status.DEAD)),
        endpoints_waiting=Count("endpoint", distinct=True, filter=waiting),
    )
    oldest = row["oldest"]
    return {
        "deliverer": deliverer_summary(now),
        "backlog": row["backlog"],
        "oldest_pending_s": round(max(0.0, (now - oldest).total_seconds()), 1) if oldest else 0.0,
        "dead": row["dead"],
        "endpoints_waiting": row["endpoints_waiting"],
    }
