from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from breaker.policy import (
    CLOSED,
    FORCED_OPEN,
    HALF_OPEN,
    OPEN,
    BreakerConfig,
    BreakerView,
    Verdict,
    cooldown_for_trip,
    decide_connect,
    jittered,
    retry_delay,
    should_trip,
    trips_after_close,
    window_start,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CFG = BreakerConfig(threshold=15, window_s=300, cooldown_s=600, max_cooldown_s=3600)
TICK = timedelta(microseconds=1)


def test_trips_at_threshold_not_before() -> None:
    assert not should_trip(14, 0, CFG)
    assert should_trip(15, 0, CFG)


def test_trips_on_a_run_of_slow_failures_outside_the_window() -> None:
    assert not should_trip(3, 14, CFG)
    assert should_trip(3, 15, CFG)


def test_window_starts_window_seconds_ago() -> None:
    assert window_start(T0, CFG, None) == T0 - timedelta(seconds=300)


def test_failures_before_a_reset_do_not_count() -> None:
    reset_at = T0 - timedelta(seconds=10)
    assert window_start(T0, CFG, reset_at) == reset_at
    assert window_start(T0, CFG, T0 - timedelta(hours=1)) == T0 - timedelta(seconds=300)


def test_closed_allows() -> None:
    assert decide_connect(BreakerView(CLOSED), T0).verdict is Verdict.ALLOW


def test_open_refuses_until_open_until_with_retry_after() -> None:
    decision = decide_connect(BreakerView(OPEN, open_until=T0 + timedelta(seconds=90)), T0)
    assert decision.verdict is Verdict.REFUSE
    assert not decision.allowed
    assert decision.retry_after_s == 90


def test_half_open_at_open_until_and_not_a_tick_before() -> None:
    view = BreakerView(OPEN, open_until=T0)
    assert decide_connect(view, T0 - TICK).verdict is Verdict.REFUSE
    assert decide_connect(view, T0).verdict is Verdict.PROBE


def test_probe_in_flight_refuses_others() -> None:
    view = BreakerView(HALF_OPEN, probe_lease_until=T0 + timedelta(seconds=5))
    decision = decide_connect(view, T0)
    assert decision.verdict is Verdict.REFUSE
    assert decision.retry_after_s == 5


def test_expired_probe_lease_lets_another_probe() -> None:
    view = BreakerView(HALF_OPEN, probe_lease_until=T0)
    assert decide_connect(view, T0).verdict is Verdict.PROBE


def test_forced_open_never_allows_by_itself() -> None:
    view = BreakerView(FORCED_OPEN)
    for later in (T0, T0 + timedelta(days=365)):
        decision = decide_connect(view, later)
        assert decision.verdict is Verdict.REFUSE
        assert decision.retry_after_s is None


def test_unknown_state_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        decide_connect(BreakerView("melted"), T0)


def test_cooldown_doubles_per_failed_probe_and_is_capped() -> None:
    assert [cooldown_for_trip(n, CFG) for n in range(5)] == [600, 1200, 2400, 3600, 3600]
    assert cooldown_for_trip(10_000, CFG) == 3600


def test_stable_close_decays_the_doubling() -> None:
    assert trips_after_close(3, T0 - timedelta(seconds=599), T0, CFG) == 3
    assert trips_after_close(3, T0 - timedelta(seconds=600), T0, CFG) == 0
    assert trips_after_close(3, None, T0, CFG) == 3


def test_jitter_is_within_twenty_percent() -> None:
    assert jittered(600, CFG, 0.0) == pytest.approx(480)
    assert jittered(600, CFG, 0.5) == pytest.approx(600)
    assert jittered(600, CFG, 0.999999) == pytest.approx(720, abs=0.01)


def test_retry_delay_is_full_jitter_of_a_capped_exponential() -> None:
    assert [retry_delay(n, 1, 20, 1.0) for n in range(7)] == [1, 2, 4, 8, 16, 20, 20]
    assert retry_delay(3, 1, 20, 0.0) == 0
    assert retry_delay(3, 1, 20, 0.5) == 4


def test_default_schedule_trips_inside_the_window_even_at_worst_jitter() -> None:
    # With the defaults, an instance that fails every attempt trips inside the window.
    worst = sum(retry_delay(n, 1, 20, 1.0) for n in range(CFG.threshold - 1))
    assert worst < CFG.window_s
