"""Time for the worker, injectable so tests step through minutes without sleeping; and times
reported from outside, read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current += timedelta(seconds=seconds)
        return self.current


class Periodic:
    """Which of a loop's periodic steps are due at `now`: each runs at most once per interval."""

    def __init__(self) -> None:
        self.last_run: dict[str, datetime] = {}

    def due(self, name: str, now: datetime, every_s: float) -> bool:
        """True (and counted as run now) if `name` last ran `every_s` ago or more, or never."""
        last = self.last_run.get(name)
        # A wall clock stepped back (NTP) must not hold a step back until it catches up.
        if last is not None and 0 <= (now - last).total_seconds() < every_s:
            return False
        self.last_run[name] = now
        return True


def parse_utc(value: Any) -> datetime | None:
    """An ISO time with its zone (as a session host reports one), in UTC as the database keeps
    it; None for anything else: not a string, no zone, or a time UTC has no date for (year 1
    east of Greenwich), which the database could not store."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None
