"""Read-only queue figures for /health and the dashboard."""

from __future__ import annotations

from django.db.models import Count, Q

from queueing.models import QueuedMessage

PENDING_STATUSES = (QueuedMessage.Status.QUEUED, QueuedMessage.Status.SENDING)


def queue_summary() -> dict[str, int]:
    row = QueuedMessage.objects.filter(
        status__in=(*PENDING_STATUSES, QueuedMessage.Status.UNCERTAIN)
    ).aggregate(
        depth=Count("id", filter=Q(status__in=PENDING_STATUSES)),
        sending=Count("id", filter=Q(status=QueuedMessage.Status.SENDING)),
        uncertain=Count("id", filter=Q(status=QueuedMessage.Status.UNCERTAIN)),
    )
    return {key: int(value or 0) for key, value in row.items()}
