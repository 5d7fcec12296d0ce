"""Token buckets, as pure functions of (the bucket's state, now).

A bucket holds up to `capacity` tokens and refills at `capacity` per `period_s`; each request
(or each failed authentication) takes one. A full bucket allows a burst of `capacity`, then one
every `period_s / capacity`. Where the state is kept (one row per bucket, shared by every web
process) is instances/throttling.py's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class Rate:
    capacity: int
    period_s: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """DRF's rate notation: `600/min`, `20/m`, `5/second` (period by its first letter)."""
        number, _, period = text.partition("/")
        if not number.strip().isdigit() or int(number) < 1 or not period or period[0] not in _PERIODS:
            raise ValueError(f"{text!r} is not a rate like 120/min (period s, m, h or d)")
        return cls(int(number), _PERIODS[period[0]])

    @property
    def refill_per_s(self) -> float:
        return self.capacity / self.period_s


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated_at: datetime


@dataclass(frozen=True)
class Decision:
    allowed: bool
    bucket: Bucket  # the state to store (when allowed; unchanged otherwise)
    wait_s: float  # 0 when allowed: how long until one token is there


def level(bucket: Bucket | None, rate: Rate, now: datetime) -> float:
    """Tokens in the bucket at `now` (a bucket never seen is full)."""
    if bucket is None:
        return float(rate.capacity)
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    return min(float(rate.capacity), bucket.tokens + elapsed * rate.refill_per_s)


def wait_for_token(bucket: Bucket | None, rate: Rate, now: datetime) -> float:
    """Seconds until the bucket holds a whole token: 0 if it does now."""
    tokens = level(bucket, rate, now)
    return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate.refill_per_s


def take(bucket: Bucket | None, rate: Rate, now: datetime) -> Decision:
    """Take one token if there is one."""
    tokens = level(bucket, rate, now)
    if tokens >= 1.0:
        return Decision(True, Bucket(tokens - 1.0, now), 0.0)
    unchanged = bucket if bucket is not None else Bucket(tokens, now)
    return Decision(False, unchanged, (1.0 - tokens) / rate.refill_per_s)


def is_idle(bucket: Bucket, rate: Rate, now: datetime) -> bool:
    """A bucket that has refilled completely holds nothing worth keeping."""
    return level(bucket, rate, now) >= rate.capacity
