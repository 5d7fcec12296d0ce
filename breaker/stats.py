"""Read-only breaker figures for /health and the dashboard (fixed query count)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from breaker.models import BreakerState, FailureEvent

OPEN_STATES = (BreakerState.State.OPEN, BreakerState.State.HALF_OPEN, BreakerState.State.FORCED_OPEN)


def open_breaker_count() -> int:
    return BreakerState.objects.filter(state__in=OPEN_STATES).count()


def recent_failure_count(now: datetime) -> int:
    """Failures across all instances within the default breaker window."""
    since = now - timedelta(seconds=settings.WAZIPER_BREAKER_WINDOW)
    return FailureEvent.objects.filter(at__gte=since).count()
