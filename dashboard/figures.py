"""Read-only figures for the dashboard: list columns and chart series, each a fixed query count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest

from breaker.models import BreakerState, FailureEvent
from instances.models import Instance
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
