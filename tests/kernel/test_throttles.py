"""Token buckets as pure functions of (state, now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kernel.throttles import Bucket, Rate, is_idle, take, wait_for_token

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FIVE_A_MINUTE = Rate(5, 60.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def spend_all(rate: Rate, n: int, now: datetime) -> tuple[list[bool], Bucket | None]:
    bucket: Bucket | None = None
    outcomes = []
    for _ in range(n):
        decision = take(bucket, rate, now)
        outcomes.append(decision.allowed)
        bucket = decision.bucket
    return outcomes, bucket


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("600/min", Rate(600, 60.0)),
        ("20/m", Rate(20, 60.0)),
        ("5/second", Rate(5, 1.0)),
        ("1/d", Rate(1, 86400.0)),
    ],
)
def test_rates_are_read_in_drfs_notation(text: str, rate: Rate) -> None:
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "0/min", "x/min", "5", "5/", "5/week", "-1/s"])
def test_a_malformed_rate_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Rate.parse(text)


def test_a_new_bucket_allows_a_burst_of_its_capacity_then_refuses() -> None:
    outcomes, _ = spend_all(FIVE_A_MINUTE, 6, T0)
    assert outcomes == [True] * 5 + [False]


def test_an_empty_bucket_says_how_long_until_the_next_token() -> None:
    _, bucket = spend_all(FIVE_A_MINUTE, 5, T0)
    assert take(bucket, FIVE_A_MINUTE, T0).wait_s == pytest.approx(12.0)
    assert wait_for_token(bucket, FIVE_A_MINUTE, at(3)) == pytest.approx(9.0)


def test_a_refused_request_costs_nothing() -> None:
    _, bucket = spend_all(FIVE_A_MINUTE, 5, T0)
    refused = take(bucket, FIVE_A_MINUTE, at(6))
    assert refused.bucket == bucket
    assert take(refused.bucket, FIVE_A_MINUTE, at(12)).allowed


def test_tokens_come_back_at_the_rate_and_never_above_capacity() -> None:
    _, bucket = spend_all(FIVE_A_MINUTE, 5, T0)
    assert spend_all_from(bucket, at(24)) == 2
    assert spend_all_from(bucket, at(3600)) == 5


def spend_all_from(bucket: Bucket | None, now: datetime) -> int:
    allowed = 0
    while (decision := take(bucket, FIVE_A_MINUTE, now)).allowed:
        allowed += 1
        bucket = decision.bucket
    return allowed


def test_a_bucket_is_idle_once_it_has_refilled() -> None:
    _, bucket = spend_all(FIVE_A_MINUTE, 1, T0)
    assert bucket is not None
    assert not is_idle(bucket, FIVE_A_MINUTE, at(11))
    assert is_idle(bucket, FIVE_A_MINUTE, at(12))


def test_a_clock_that_steps_back_refills_nothing() -> None:
    _, bucket = spend_all(FIVE_A_MINUTE, 5, T0)
    assert not take(bucket, FIVE_A_MINUTE, at(-30)).allowed
