"""webhooks.policy: the retry schedule, answers, and the endpoint breaker, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from breaker.policy import Verdict as BreakerVerdict
from webhooks import policy

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CONFIG = policy.breaker_config(threshold=3, cooldown_s=60, max_cooldown_s=600, probe_lease_s=30)


def delay(attempts: int, rand: float = 0.5, **kwargs: float) -> float | None:
    at = policy.next_attempt_at(attempts, NOW, rand, **kwargs)
    return None if at is None else (at - NOW).total_seconds()


def test_the_schedule_is_5s_30s_2min_10min_30min_1h_3h_6h_12h() -> None:
    assert [delay(n) for n in range(1, 10)] == [5, 30, 120, 600, 1800, 3600, 10800, 21600, 43200]


def test_after_the_tenth_attempt_the_delivery_is_dead() -> None:
    assert delay(10) is None


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 4.0), (0.999999, 6.0)])
def test_the_delay_is_jittered_by_20_percent(rand: float, expected: float) -> None:
    assert delay(1, rand) == pytest.approx(expected, abs=1e-3)


def test_the_scale_compresses_the_schedule() -> None:
    assert delay(2, scale=0.01) == pytest.approx(0.3)


def test_retry_after_is_honoured_when_it_asks_for_longer() -> None:
    assert delay(1, retry_after_s=90) == 90


def test_retry_after_never_brings_a_retry_forward() -> None:
    assert delay(3, retry_after_s=1) == 120


def test_retry_after_is_capped() -> None:
    assert delay(1, retry_after_s=10**9, retry_after_cap_s=3600) == 3600


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("Thu, 01 Jan 2026 12:02:00 GMT", 120.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str | None, expected: float | None) -> None:
    assert policy.parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize(
    ("code", "verdict"),
    [
        (200, policy.Verdict.DELIVERED),
        (204, policy.Verdict.DELIVERED),
        (299, policy.Verdict.DELIVERED),
        (301, policy.Verdict.RETRY),
        (404, policy.Verdict.RETRY),
        (410, policy.Verdict.GONE),
        (500, policy.Verdict.RETRY),
        (None, policy.Verdict.RETRY),
    ],
)
def test_only_2xx_is_delivered_and_410_is_gone(code: int | None, verdict: policy.Verdict) -> None:
    assert policy.verdict(code) is verdict


def test_an_excerpt_is_bounded_and_survives_bad_utf8() -> None:
    assert policy.excerpt(b"\xff" + b"x" * 5000) == "\ufffd" + "x" * 999


def test_the_breaker_trips_on_the_thresholdth_failure_in_a_row() -> None:
    closed = policy.EndpointBreaker("closed", consecutive_failures=1)
    assert policy.after_failures(closed, 1, NOW, CONFIG, 0.5).trip is False
    tripped = policy.after_failures(closed, 2, NOW, CONFIG, 0.5)
    assert (tripped.trip, tripped.open_until, tripped.trips) == (True, NOW + timedelta(seconds=60), 1)


def test_a_failed_probe_reopens_with_the_cooldown_doubled() -> None:
    probing = policy.EndpointBreaker("half_open", consecutive_failures=3, trips=1)
    reopened = policy.after_failures(probing, 1, NOW, CONFIG, 0.5)
    assert (reopened.open_until, reopened.trips) == (NOW + timedelta(seconds=120), 2)


def test_late_failures_of_an_open_breaker_do_not_move_it() -> None:
    assert policy.after_failures(policy.EndpointBreaker("open", 3, 1), 2, NOW, CONFIG, 0.5).trip is False


def test_a_close_that_held_forgets_the_doubling() -> None:
    breaker = policy.EndpointBreaker("closed", 2, trips=3, closed_at=NOW - timedelta(seconds=61))
    assert policy.after_failures(breaker, 1, NOW, CONFIG, 0.5).open_until == NOW + timedelta(seconds=60)


def test_an_open_breaker_refuses_until_its_cooldown_then_allows_one_probe() -> None:
    breaker = policy.EndpointBreaker("open", open_until=NOW + timedelta(seconds=1))
    assert policy.may_deliver(breaker, NOW).verdict is BreakerVerdict.REFUSE
    assert policy.may_deliver(breaker, NOW + timedelta(seconds=1)).verdict is BreakerVerdict.PROBE
    probing = policy.EndpointBreaker("half_open", probe_lease_until=NOW + timedelta(seconds=30))
    assert policy.may_deliver(probing, NOW).verdict is BreakerVerdict.REFUSE
