"""kernel.clock: the fake clock, which periodic steps are due, and times reported from outside
read into what the database can keep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kernel.clock import FakeClock, Periodic, parse_utc


def test_a_step_is_due_at_first_then_once_per_interval() -> None:
    clock, periodic = FakeClock(), Periodic()
    assert periodic.due("beat", clock.now(), 10) is True
    assert periodic.due("beat", clock.advance(9.9), 10) is False
    assert periodic.due("beat", clock.advance(0.1), 10) is True


def test_steps_are_counted_apart() -> None:
    clock, periodic = FakeClock(), Periodic()
    periodic.due("beat", clock.now(), 10)
    assert periodic.due("cleanup", clock.now(), 10) is True


def test_a_clock_stepped_back_makes_the_step_due_at_once() -> None:
    clock, periodic = FakeClock(), Periodic()
    periodic.due("beat", clock.now(), 10)
    assert periodic.due("beat", clock.advance(-3600), 10) is True


def test_a_zoned_iso_time_is_read_as_the_same_moment() -> None:
    assert parse_utc("2026-01-01T19:00:00+07:00") == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_zoned_iso_time_is_given_in_utc() -> None:
    moment = parse_utc("2026-01-01T19:00:00+07:00")
    assert moment is not None
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "value", [None, "", 42, "yesterday", "2026-01-01T12:00:00", "0001-01-01T00:00:00+05:00"]
)
def test_anything_but_a_zoned_time_utc_has_a_date_for_is_none(value: Any) -> None:
    assert parse_utc(value) is None
