"""Worker heartbeats: what counts as a stall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from instances import worker_registry

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_worker_is_stalled_once_its_last_progress_is_the_stall_limit_old() -> None:
    assert worker_registry.is_stalled(T0, T0 + timedelta(seconds=60), 60) is True


def test_a_worker_is_not_stalled_just_before_the_stall_limit() -> None:
    assert worker_registry.is_stalled(T0, T0 + timedelta(seconds=59.9), 60) is False


def test_a_wall_clock_stepped_back_is_not_a_stall() -> None:
    assert worker_registry.is_stalled(T0, T0 - timedelta(hours=1), 60) is False


@pytest.mark.django_db
def test_last_heartbeat_is_the_recorded_progress_or_none() -> None:
    now = timezone.now()
    worker_registry.register("w1", 10, now)
    worker_registry.beat("w1", 0, now + timedelta(seconds=5))
    assert worker_registry.last_heartbeat("w1") == now + timedelta(seconds=5)
    assert worker_registry.last_heartbeat("nobody") is None
