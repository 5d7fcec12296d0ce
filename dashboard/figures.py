"""Read-only figures for the dashboard: list columns, an instance's status panel and chart series,
each a fixed query count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from breaker import service as breaker_service
from breaker.models import BreakerState, FailureEvent
from instances.models import Instance, InstanceEvent, WorkerProcess
from operations.frames import phone_from_jid
from queueing.models import QueuedMessage
from queueing.stats import PENDING_STATUSES

OTHERS = "others"


def _count(queryset: QuerySet) -> Coalesce:
    """A correlated COUNT(*) as an annotation (0 rather than NULL when nothing matches)."""
    counted = queryset.order_by().values("instance").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_list_columns(queryset: QuerySet[Instance], now: datetime) -> QuerySet[Instance]:
    """Annotate the instance list's columns: breaker state, failures in window, queue depth,
    last failure. One query for the page whatever its length.

    Failures count as the breaker counts them: within the default window and since the last
    reset (per-instance window overrides are rare; the Link phone page shows the exact figure).
    """
    window_start = now - timedelta(seconds=settings.WAZIPER_BREAKER_WINDOW)
    since = Greatest(Value(window_start), Coalesce(OuterRef("breaker__counted_since"), Value(window_start)))
    failures = FailureEvent.objects.filter(instance=OuterRef("pk"), counts=True, at__gte=since)
    last_failure = FailureEvent.objects.filter(instance=OuterRef("pk")).order_by("-at", "-id")
    pending = QueuedMessage.objects.filter(instance=OuterRef("pk"), status__in=PENDING_STATUSES)
    return queryset.annotate(
        breaker_state=Coalesce(F("breaker__state"), Value(BreakerState.State.CLOSED)),
        failures_in_window=_count(failures),
        queue_depth=_count(pending),
        last_failure_at=Subquery(last_failure.values("at")[:1]),
        last_failure_kind=Subquery(last_failure.values("kind")[:1]),
    )


# What the instance page counts as its queue: waiting, in flight, and claimed by a worker that died
# mid-send (they need a person's look).
QUEUE_DEPTH_STATUSES = (
    QueuedMessage.Status.QUEUED,
    QueuedMessage.Status.SENDING,
    QueuedMessage.Status.UNCERTAIN,
)
RECENT_FAILURES = 10
RECENT_EVENTS = 15


@dataclass(frozen=True)
class BreakerFigures:
    state: str
    state_label: str
    failures_in_window: int
    threshold: int
    window_s: float
    open_until: datetime | None
    forced_reason: str
    last_reset_at: datetime | None


@dataclass(frozen=True)
class EventLine:
    at: datetime
    kind: str
    summary: str


@dataclass(frozen=True)
class InstanceHome:
    """The status panel of an instance's admin page."""

    phone: str
    breaker: BreakerFigures
    queue: dict[str, int]
    recent_failures: list[FailureEvent]
    recent_events: list[EventLine]
    worker: WorkerProcess | None
    lease_live: bool


def _breaker_figures(instance: Instance, now: datetime) -> BreakerFigures:
    """Read-only: an instance that never failed has no breaker row and is closed (no row is made)."""
    state = BreakerState.objects.filter(pk=instance.pk).first() or BreakerState(instance=instance)
    config = breaker_service.config_for(state)
    return BreakerFigures(
        state=state.state,
        state_label=state.get_state_display(),
        failures_in_window=breaker_service.failures_in_window(state, config, now),
        threshold=config.threshold,
        window_s=config.window_s,
        open_until=state.open_until,
        forced_reason=state.forced_reason,
        last_reset_at=state.last_reset_at,
    )


def _queue_depth(instance: Instance) -> dict[str, int]:
    row = QueuedMessage.objects.filter(instance=instance, status__in=QUEUE_DEPTH_STATUSES).aggregate(
        **{status: Count("id", filter=Q(status=status)) for status in QUEUE_DEPTH_STATUSES}
    )
    return {str(status): int(row[status] or 0) for status in QUEUE_DEPTH_STATUSES}


def event_summary(kind: str, payload: dict[str, Any]) -> str:
    """One outbox row as a line of text (a QR or pairing code itself is never shown)."""
    if kind == InstanceEvent.Kind.STATUS:
        return " · ".join(str(part) for part in (payload.get("status"), payload.get("detail")) if part)
    if kind == InstanceEvent.Kind.BREAKER:
        moved = f"{payload.get('previous')} → {payload.get('state')}"
        return f"{moved} · {payload['reason']}" if payload.get("reason") else moved
    if kind == InstanceEvent.Kind.QR:
        return "new QR code"
    if kind == InstanceEvent.Kind.PAIR_CODE:
        return "pairing code issued"
    if kind in (InstanceEvent.Kind.MESSAGE, InstanceEvent.Kind.MESSAGE_RECEIVED):
        return (
            f"{payload.get('kind') or 'message'} from {payload.get('chat') or payload.get('sender') or '?'}"
        )
    if kind == InstanceEvent.Kind.MESSAGE_UPDATED:
        return f"{payload.get('update') or 'update'} of {payload.get('target_wa_message_id') or '?'}"
    if kind == InstanceEvent.Kind.GROUP_UPDATED:
        what = [*(payload.get("changes") or {}), *(payload.get("participants") or {})]
        if payload.get("account"):
            what.insert(0, f"the account {payload['account']}")
        return f"group {payload.get('group_id') or '?'}: {', '.join(what) or 'changed'}"
    if kind == InstanceEvent.Kind.CONTACT_UPDATED:
        changed = ", ".join(payload.get("changes") or {}) or "changed"
        return f"contact {payload.get('phone') or payload.get('contact_id') or '?'}: {changed}"
    return ""


def instance_home(instance: Instance, now: datetime) -> InstanceHome:
    """Breaker, queue depth, recent failures and events, the worker holding the lease: a fixed
    handful of queries (six at most) whatever the instance's history."""
    failures = list(FailureEvent.objects.filter(instance=instance).order_by("-at", "-id")[:RECENT_FAILURES])
    events = instance.events.order_by("-id")[:RECENT_EVENTS]
    worker = (
        WorkerProcess.objects.filter(worker_id=instance.worker_id).first() if instance.worker_id else None
    )
    lease = instance.lease_expires_at
    return InstanceHome(
        phone=phone_from_jid(instance.jid),
        breaker=_breaker_figures(instance, now),
        queue=_queue_depth(instance),
        recent_failures=failures,
        recent_events=[EventLine(e.created_at, e.kind, event_summary(e.kind, e.payload)) for e in events],
        worker=worker,
        lease_live=bool(instance.worker_id) and lease is not None and lease > now,
    )


@dataclass(frozen=True)
class Buckets:
    """`count` equal time slices ending at `end`; labels name each slice's start."""

    end: datetime
    hours: float
    count: int = 24

    @property
    def start(self) -> datetime:
        return self.end - timedelta(hours=self.hours)

    def edges(self) -> list[datetime]:
        step = timedelta(hours=self.hours) / self.count
        return [self.start + step * i for i in range(self.count + 1)]

    def labels(self) -> list[str]:
        fmt = "%H:%M" if self.hours <= 24 else "%d %b"
        return [edge.strftime(fmt) for edge in self.edges()[:-1]]

    def counts(self, field: str) -> dict[str, Count]:
        """One conditional COUNT per slice: the bucketing happens in the database."""
        edges = self.edges()
        return {
            f"b{i}": Count("id", filter=Q(**{f"{field}__gte": edges[i], f"{field}__lt": edges[i + 1]}))
            for i in range(self.count)
        }


def failures_per_instance(buckets: Buckets, top: int = 6) -> list[tuple[str, list[int]]]:
    """Failures per slice for the `top` instances with the most, the rest summed as "others"."""
    rows = (
        FailureEvent.objects.filter(at__gte=buckets.start, at__lt=buckets.end)
        .values("instance__instance_id", "instance__name")
        .annotate(total=Count("id"), **buckets.counts("at"))
        .order_by("-total", "instance__instance_id")
    )
    series: list[tuple[str, list[int]]] = []
    others = [0] * buckets.count
    for index, row in enumerate(rows):
        counts: dict[str, Any] = dict(row)  # the bucket keys are built at run time
        values = [counts[f"b{i}"] for i in range(buckets.count)]
        if index < top:
            name = row["instance__name"]
            label = f"{name} ({row['instance__instance_id']})" if name else row["instance__instance_id"]
            series.append((label, values))
        else:
            others = [a + b for a, b in zip(others, values, strict=True)]
    if any(others):
        series.append((OTHERS, others))
    return series


def queue_throughput(buckets: Buckets) -> list[tuple[str, list[int]]]:
    """Messages handed to WhatsApp (sent_at) and given up (failed_at) per slice."""
    series = []
    for label, field in (("sent", "sent_at"), ("failed", "failed_at")):
        row = QueuedMessage.objects.filter(
            **{f"{field}__gte": buckets.start, f"{field}__lt": buckets.end}
        ).aggregate(**buckets.counts(field))
        series.append((label, [row[f"b{i}"] or 0 for i in range(buckets.count)]))
    return series
