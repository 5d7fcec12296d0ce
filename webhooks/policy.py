"""Webhook delivery decisions as pure functions of (state, now, rand): no database, no clock.

* The retry schedule: after attempt n fails, wait RETRY_SCHEDULE_S[n-1] (±20 %), then give up
  after the last. A `Retry-After` from the receiver is honoured (never retried sooner) up to a cap.
* What an answer means: 2xx delivered, 410 Gone disables the endpoint, anything else is retried.
* The endpoint's own circuit breaker reuses breaker.policy's rules with a webhook's config:
  `threshold` attempts in a row failing open it; a cooldown later one delivery probes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from breaker import policy as breaker_policy
from breaker.policy import BreakerConfig, BreakerView

# 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h, 12 h: ten attempts over about a day.
RETRY_SCHEDULE_S: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
MAX_ATTEMPTS = len(RETRY_SCHEDULE_S) + 1
JITTER = 0.2
EXCERPT_CHARS = 1000


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    GONE = "gone"  # 410: the receiver says the endpoint no longer exists
    RETRY = "retry"


def verdict(status_code: int | None) -> Verdict:
    """What an attempt's HTTP status means (None: no answer at all)."""
    if status_code is not None and 200 <= status_code < 300:
        return Verdict.DELIVERED
    if status_code == 410:
        return Verdict.GONE
    return Verdict.RETRY


def next_attempt_at(
    attempts: int,
    now: datetime,
    rand: float,
    *,
    retry_after_s: float | None = None,
    retry_after_cap_s: float = 3600.0,
    scale: float = 1.0,
) -> datetime | None:
    """When to try again after `attempts` attempts all failed, the last one at `now`; None once the
    schedule is spent (the delivery is dead). `rand` in [0, 1) places the jitter; `scale`
    compresses the schedule (tests, benchmarks)."""
    if attempts < 1:
        return now
    if attempts > len(RETRY_SCHEDULE_S):
        return None
    delay = RETRY_SCHEDULE_S[attempts - 1] * scale * (1.0 + JITTER * (2.0 * rand - 1.0))
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, retry_after_cap_s))
    return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """A `Retry-After` header (seconds, or an HTTP date) as seconds from `now`; None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - now).total_seconds())


def excerpt(body: bytes, limit: int = EXCERPT_CHARS) -> str:
    """The start of a receiver's answer, for people reading the delivery log."""
    return body[: limit * 4].decode("utf-8", errors="replace")[:limit]


# --- the endpoint's breaker ---------------------------------------------------------------------


def breaker_config(
    threshold: int, cooldown_s: float, max_cooldown_s: float, probe_lease_s: float
) -> BreakerConfig:
    """A webhook endpoint's breaker counts failed attempts in a row (the window is unused: one
    success in between means the receiver is up)."""
    return BreakerConfig(
        threshold=threshold,
        window_s=float("inf"),
        cooldown_s=cooldown_s,
        max_cooldown_s=max_cooldown_s,
        jitter=JITTER,
        probe_lease_s=probe_lease_s,
    )


@dataclass(frozen=True)
class EndpointBreaker:
    state: str
    consecutive_failures: int = 0
    trips: int = 0
    open_until: datetime | None = None
    probe_lease_until: datetime | None = None
    closed_at: datetime | None = None

    def view(self) -> BreakerView:
        return BreakerView(
            state=self.state,
            failures_in_window=self.consecutive_failures,
            consecutive_failures=self.consecutive_failures,
            open_until=self.open_until,
            probe_lease_until=self.probe_lease_until,
        )


def may_deliver(breaker: EndpointBreaker, now: datetime) -> breaker_policy.ConnectDecision:
    """ALLOW (closed), PROBE (one delivery may test a receiver that was failing), or REFUSE."""
    return breaker_policy.decide_connect(breaker.view(), now)


@dataclass(frozen=True)
class AfterFailure:
    trip: bool
    open_until: datetime | None = None
    trips: int = 0


def after_failures(
    breaker: EndpointBreaker, failures: int, now: datetime, config: BreakerConfig, rand: float
) -> AfterFailure:
    """`failures` more attempts failed: does the breaker open, and until when? A failed probe
    (half-open) always reopens it, with the cooldown doubled."""
    consecutive = breaker.consecutive_failures + failures
    probing = breaker.state == breaker_policy.HALF_OPEN
    if not probing and (
        breaker.state != breaker_policy.CLOSED
        or not breaker_policy.should_trip(consecutive, consecutive, config)
    ):
        return AfterFailure(trip=False)
    # Only a trip out of `closed` asks whether that close was stable; a failed probe doubles on.
    trips = (
        breaker.trips
        if probing
        else breaker_policy.trips_after_close(breaker.trips, breaker.closed_at, now, config)
    )
    cooldown = breaker_policy.jittered(breaker_policy.cooldown_for_trip(trips, config), config, rand)
    return AfterFailure(trip=True, open_until=now + timedelta(seconds=cooldown), trips=trips + 1)
