"""kernel.clock.parse_utc: times reported from outside, read into what the database can keep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kernel.clock import parse_utc


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
