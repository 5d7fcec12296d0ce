"""Read-only queue figures: one instance's queue (the API, the admin, `manage.py queue_status`)
and the fleet's (/health, the dashboard)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q, Sum

from breaker.service import is_open
from instances.models import Instance
from instances.stats import worker_summary
from queueing import dispatch
from queueing.models import QueuedMessage

PENDING_STATUSES = (QueuedMessage.Status.QUEUED, QueuedMessage.Status.SENDING)
Status = QueuedMessage.Status
DONE_OK = (Status.SENT, Status.DELIVERED, Status.READ)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def paused_reason(instance: Instance, now: datetime) -> str | None:
    """Why this instance's messages are waiting instead of being sent, or None."""
    if instance.desired_state == Instance.Desired.STOPPED:
        return "instance is stopped; GET /instance or /get_qrcode starts it"
    if is_open(instance):
        until = getattr(getattr(instance, "breaker", None), "open_until", None)
        return "circuit breaker is open" + (
            f" until {until.isoformat()}" if until else " until a manual reset"
        )
    if instance.status != Instance.Status.CONNECTED:
        return f"instance is {instance.status}, not connected; messages wait until it connects"
    if not worker_summary(now)["alive"]:
        return "no worker process is running"
    return None


# Waziper's queue recommendations, in its words and order.
LOW_SUCCESS_RATE = "⚠️ Low success rate detected. Consider reducing message sending frequency."
HIGH_BACKLOG = "📬 High queue backlog. Messages may experience delays."
MANY_RETRIES = "🔄 Many messages in retry queue. Check connection stability."
PROCESSING = "⚙️ Queue is actively processing messages."
HEALTHY = "✅ Queue is healthy and operating normally."
LOW_SUCCESS_PERCENT = 70
HIGH_BACKLOG_ABOVE = 10
MANY_RETRIES_ABOVE = 5


def waziper_figures(
    instance_id: str, counts: dict[str, int], *, retry_waiting: int, retries: int
) -> dict[str, Any]:
    """The figures of Waziper's `/queue-status` from this queue's counts: `mainQueue` (waiting to
    be sent), `retryQueue` (of those, the ones waiting to be tried again), `processing` (one is
    being sent), cumulative `stats`, `successRate` in percent and `recommendations`.

    Unlike Waziper's, an instance that has sent nothing yet is not warned of a low success rate:
    there is no rate to be low."""
    ok = sum(counts[s] for s in DONE_OK)
    failed = counts[Status.FAILED]
    rate = round(100 * ok / (ok + failed)) if ok + failed else 0
    main_queue = counts[Status.QUEUED]
    processing = counts[Status.SENDING] > 0
    advice = []
    if ok + failed and rate < LOW_SUCCESS_PERCENT:
        advice.append(LOW_SUCCESS_RATE)
    if main_queue > HIGH_BACKLOG_ABOVE:
        advice.append(HIGH_BACKLOG)
    if retry_waiting > MANY_RETRIES_ABOVE:
        advice.append(MANY_RETRIES)
    if processing:
        advice.append(PROCESSING)
    return {
        "instanceId": instance_id,
        "mainQueue": main_queue,
        "retryQueue": retry_waiting,
        "processing": processing,
        "stats": {"queued": sum(counts.values()), "success": ok, "failed": failed, "retry": retries},
        "successRate": rate,
        "recommendations": advice or [HEALTHY],
    }


def queue_status(instance: Instance, now: datetime) -> dict[str, Any]:
    """Counts per status, oldest queued age, paused and why, next send time, success rate;
    and beside them Waziper's figures (waziper_figures).

    A fixed handful of queries whatever the backlog: one aggregate over the instance's rows.
    """
    fields: dict[str, Any] = {status: Count("id", filter=Q(status=status)) for status in Status.values}
    row = QueuedMessage.objects.filter(instance=instance).aggregate(
        **fields,
        oldest_queued=Min("created_at", filter=Q(status=Status.QUEUED)),
        earliest_due=Min("not_before", filter=Q(status=Status.QUEUED)),
        retry_waiting=Count("id", filter=Q(status=Status.QUEUED, attempts__gt=0)),
        attempts_made=Sum("attempts"),
        # Rows tried and no longer waiting: their first attempt was not a retry.
        tried_done=Count("id", filter=Q(attempts__gt=0) & ~Q(status=Status.QUEUED)),
    )
    counts = {status: int(row[status] or 0) for status in Status.values}
    oldest: datetime | None = row["oldest_queued"]
    reason = paused_reason(instance, now)
    pace = dispatch.pacing([instance.pk]).get(instance.pk)
    spacing = pace.spacing if pace else dispatch.default_spacing()
    next_send = None
    if counts[Status.QUEUED] and reason is None:
        candidates = [now, row["earliest_due"]]
        if pace and pace.last_handoff:
            candidates.append(pace.last_handoff + timedelta(seconds=spacing.min_s))
        next_send = max(c for c in candidates if c is not None)
    ok = sum(counts[s] for s in DONE_OK)
    settled = ok + counts[Status.FAILED]
    return {
        "instance_id": instance.instance_id,
        "counts": counts,
        "total": sum(counts.values()),
        "pending": counts[Status.QUEUED] + counts[Status.SENDING],
        "oldest_queued_at": _iso(oldest),
        "oldest_queued_age_s": round((now - oldest).total_seconds(), 3) if oldest else None,
        "paused": reason is not None,
        "paused_reason": reason,
        "next_send_at": _iso(next_send),
        "last_send_at": _iso(pace.last_handoff if pace else None),
        "send_delay": {"min_s": spacing.min_s, "max_s": spacing.max_s},
        "success_rate": round(ok / settled, 4) if settled else None,
        **waziper_figures(
            instance.instance_id,
            counts,
            retry_waiting=int(row["retry_waiting"] or 0),
            retries=int(row["attempts_made"] or 0) - int(row["tried_done"] or 0),
        ),
    }


def queue_summary() -> dict[str, int]:
    row = QueuedMessage.objects.filter(
        status__in=(*PENDING_STATUSES, QueuedMessage.Status.UNCERTAIN)
    ).aggregate(
        depth=Count("id", filter=Q(status__in=PENDING_STATUSES)),
        sending=Count("id", filter=Q(status=QueuedMessage.Status.SENDING)),
        uncertain=Count("id", filter=Q(status=QueuedMessage.Status.UNCERTAIN)),
    )
    return {key: int(value or 0) for key, value in row.items()}
