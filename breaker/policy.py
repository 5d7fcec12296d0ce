"""The breaker's decisions as pure functions of (state, now): no database, no clock, no randomness
of their own (callers pass `rand` in [0, 1)). `breaker.service` applies them in transactions.

Rules (docs/architecture.md, "The circuit breaker"):
* closed: every connect allowed. Trips when `threshold` counting failures fall within `window_s`
  (since the last reset or close), or when `threshold` attempts in a row failed with no success
  between them. The second rule catches slow failures: with a 30 s connect timeout, fifteen
  hanging dials take longer than a 300 s window and the window rule alone would never trip.
* open: refused until `open_until`; then exactly one probe (half-open).
* half-open: the probe's outcome closes it, or reopens it with the cooldown doubled (capped).
  A probe whose lease expired (its worker died) may be claimed by another.
* forced open (logged out, banned): refused until a person resets it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"
FORCED_OPEN = "forced_open"


@dataclass(frozen=True)
class BreakerConfig:
    threshold: int = 15
    window_s: float = 300.0
    cooldown_s: float = 600.0
    max_cooldown_s: float = 3600.0
    jitter: float = 0.2
    probe_lease_s: float = 60.0

    @property
    def stable_after_s(self) -> float:
        """A close that lasts one base cooldown is stable: the next trip starts from the base again."""
        return self.cooldown_s


@dataclass(frozen=True)
class BreakerView:
    """What the policy needs to know about one breaker at one moment."""

    state: str
    failures_in_window: int = 0
    consecutive_failures: int = 0
    open_until: datetime | None = None
    probe_lease_until: datetime | None = None


class Verdict(enum.Enum):
    ALLOW = "allow"
    PROBE = "probe"
    REFUSE = "refuse"


@dataclass(frozen=True)
class ConnectDecision:
    verdict: Verdict
    state: str
    retry_after_s: float | None = None
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict is not Verdict.REFUSE


def window_start(now: datetime, config: BreakerConfig, counted_since: datetime | None) -> datetime:
    """Failures at or after this moment count: the window, cut short by the last reset/close."""
    start = now - timedelta(seconds=config.window_s)
    return max(start, counted_since) if counted_since else start


def should_trip(failures_in_window: int, consecutive_failures: int, config: BreakerConfig) -> bool:
    return failures_in_window >= config.threshold or consecutive_failures >= config.threshold


def decide_connect(view: BreakerView, now: datetime) -> ConnectDecision:
    """May this instance dial now? A PROBE verdict still has to be claimed (see service)."""
    if view.state == CLOSED:
        return ConnectDecision(Verdict.ALLOW, CLOSED)
    if view.state == FORCED_OPEN:
        return ConnectDecision(Verdict.REFUSE, FORCED_OPEN, None, "needs a new QR scan or a manual reset")
    if view.state == OPEN:
        if view.open_until is None or now >= view.open_until:
            return ConnectDecision(Verdict.PROBE, OPEN, reason="cooldown over: one probe")
        return ConnectDecision(
            Verdict.REFUSE, OPEN, _seconds_until(view.open_until, now), "circuit breaker open"
        )
    if view.state == HALF_OPEN:
        if view.probe_lease_until is None or now >= view.probe_lease_until:
            return ConnectDecision(Verdict.PROBE, HALF_OPEN, reason="previous probe's lease expired")
        return ConnectDecision(
            Verdict.REFUSE, HALF_OPEN, _seconds_until(view.probe_lease_until, now), "a probe is in flight"
        )
    raise ValueError(f"unknown breaker state {view.state!r}")


def cooldown_for_trip(trips_before: int, config: BreakerConfig) -> float:
    """Base cooldown on a first trip, doubled for each failed probe since, capped."""
    return min(config.max_cooldown_s, config.cooldown_s * (2 ** min(trips_before, 32)))


def trips_after_close(trips: int, closed_at: datetime | None, now: datetime, config: BreakerConfig) -> int:
    """The doubling decays once a close has held for `stable_after_s`."""
    if closed_at is not None and (now - closed_at).total_seconds() >= config.stable_after_s:
        return 0
    return trips


def jittered(seconds: float, config: BreakerConfig, rand: float) -> float:
    """`seconds` ± jitter (20 % by default) so instances that tripped together do not wake together."""
    return seconds * (1.0 + config.jitter * (2.0 * rand - 1.0))


def retry_delay(attempt: int, base_s: float, cap_s: float, rand: float) -> float:
    """Backoff before reconnect attempt `attempt` (0-based) while closed: full jitter."""
    return rand * min(cap_s, base_s * (2 ** min(attempt, 32)))


def _seconds_until(moment: datetime, now: datetime) -> float:
    return max(0.0, (moment - now).total_seconds())
