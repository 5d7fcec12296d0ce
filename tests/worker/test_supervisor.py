"""`serve`'s worker supervisor: when it restarts its child (pure decisions; the processes
themselves are in tests/integration/test_worker_process.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from worker.supervisor import child_stalled, restart_delay

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_restarts_back_off_to_thirty_seconds() -> None:
    assert [restart_delay(n) for n in (1, 2, 3, 6, 9)] == [1, 2, 4, 30, 30]


def test_a_child_that_beat_recently_is_not_stalled() -> None:
    beat = T0 + timedelta(seconds=100)
    assert child_stalled(T0, beat, beat + timedelta(seconds=59), 60) is False


def test_a_child_whose_last_beat_is_the_stall_limit_old_is_stalled() -> None:
    beat = T0 + timedelta(seconds=100)
    assert child_stalled(T0, beat, beat + timedelta(seconds=60), 60) is True


def test_a_child_that_never_beat_is_given_the_stall_limit_from_its_start() -> None:
    assert child_stalled(T0, None, T0 + timedelta(seconds=59), 60) is False


def test_a_child_that_never_beat_is_stalled_the_stall_limit_after_its_start() -> None:
    assert child_stalled(T0, None, T0 + timedelta(seconds=60), 60) is True


def test_a_child_still_starting_up_gets_the_startup_grace_when_that_is_longer() -> None:
    assert child_stalled(T0, None, T0 + timedelta(seconds=29), 2, startup_s=30) is False


def test_a_child_that_never_registers_is_stalled_after_the_startup_grace() -> None:
    assert child_stalled(T0, None, T0 + timedelta(seconds=30), 2, startup_s=30) is True


def test_a_registered_child_is_judged_by_the_stall_limit_alone() -> None:
    beat = T0 + timedelta(seconds=1)
    assert child_stalled(T0, beat, beat + timedelta(seconds=2), 2, startup_s=30) is True


def test_a_heartbeat_from_before_the_child_started_gives_no_less_grace() -> None:
    assert child_stalled(T0, T0 - timedelta(hours=1), T0 + timedelta(seconds=30), 60) is False
