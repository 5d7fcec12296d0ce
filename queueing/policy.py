"""Pure queue decisions: send spacing and retry backoff. No I/O; time and randomness are passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

Rand = Callable[[], float]

# Send retries back off from 5 s, doubling, to at most 5 minutes (pretix's webhook retries start at
# seconds for blips and stretch out for outages). A settings knob may override them.
DEFAULT_RETRY_BASE_S = 5.0
DEFAULT_RETRY_CAP_S = 300.0


@dataclass(frozen=True)
class Spacing:
    """Anti-ban spacing between two sends of one instance, in seconds (both zero: no spacing)."""

    min_s: float
    max_s: float

    def __post_init__(self) -> None:
        if self.min_s < 0 or self.max_s < self.min_s:
            raise ValueError(f"invalid send spacing {self.min_s}..{self.max_s}")


def spacing_for(
    instance_min: float | None, instance_max: float | None, default_min: float, default_max: float
) -> Spacing:
    """The instance's own spacing where set, else the settings'; a lone bound widens the other."""
    low = default_min if instance_min is None else max(0.0, instance_min)
    high = default_max if instance_max is None else max(0.0, instance_max)
    if instance_min is not None and instance_max is None:
        high = max(high, low)
    elif instance_max is not None and instance_min is None:
        low = min(low, high)
    return Spacing(low, max(low, high))


def send_delay(spacing: Spacing, rand: Rand) -> float:
    """A uniformly random gap in [min, max]: a fixed rhythm is what anti-spam systems spot."""
    return spacing.min_s + (spacing.max_s - spacing.min_s) * rand()


def next_send_at(last_handoff: datetime | None, spacing: Spacing, now: datetime, rand: Rand) -> datetime:
    """When an instance may hand its next message to the session."""
    if last_handoff is None:
        return now
    return last_handoff + timedelta(seconds=send_delay(spacing, rand))


def retry_delay(attempts: int, rand: Rand, *, base_s: float, cap_s: float) -> float:
    """Backoff after the `attempts`-th failed try: base·2^(attempts−1), capped, with equal jitter
    (half fixed, half random) so a retry is never immediate yet retries of a blast spread out."""
    # The exponent is bounded: base_s is a float, and a float times 2**1024 raises OverflowError.
    exp = min(cap_s, base_s * 2 ** min(max(0, attempts - 1), 32))
    return exp / 2 + (exp / 2) * rand()


@dataclass(frozen=True)
class FailureDecision:
    """What to do with a message whose send failed."""

    retry: bool
    not_before: datetime | None
    counts_attempt: bool
    reason: str


def after_send_failure(
    *,
    attempts: int,
    max_attempts: int,
    retryable: bool,
    dead_socket: bool,
    now: datetime,
    rand: Rand,
    base_s: float = DEFAULT_RETRY_BASE_S,
    cap_s: float = DEFAULT_RETRY_CAP_S,
) -> FailureDecision:
    """Decide retry vs failed. `attempts` includes the try that just failed.

    A dead socket is the connection's fault, not the message's: the message waits for the
    reconnect without using up an attempt, or a flapping link would fail whole blasts.
    """
    if dead_socket:
        return FailureDecision(True, now, False, "connection lost during send")
    if not retryable:
        return FailureDecision(False, None, True, "permanent error")
    if attempts >= max_attempts:
        return FailureDecision(False, None, True, f"gave up after {attempts} attempts")
    delay = retry_delay(attempts, rand, base_s=base_s, cap_s=cap_s)
    return FailureDecision(True, now + timedelta(seconds=delay), True, f"retry {attempts + 1}")


# How long after a send WhatsApp lets its sender change it. Edits: 15 minutes ("You can edit
# a message for up to 15 minutes after you send it", WhatsApp Help Center, "How to edit
# messages"). Deleting for everyone: "about 2 days" ("How to delete messages"); phones past
# it ignore the revoke, so we stop at 2 days rather than guess at the "about".
EDIT_WINDOW = timedelta(minutes=15)
DELETE_WINDOW = timedelta(days=2)
ACTION_WINDOWS = {"edit": EDIT_WINDOW, "delete": DELETE_WINDOW}


def action_deadline(kind: str, sent_at: datetime | None) -> datetime | None:
    """Until when a `kind` (edit, delete) of a message sent at `sent_at` may go out; None: no limit."""
    window = ACTION_WINDOWS.get(kind)
    if window is None or sent_at is None:
        return None
    return sent_at + window


def window_closed(kind: str, sent_at: datetime | None, now: datetime) -> str | None:
    """Why a `kind` of a message sent at `sent_at` may no longer go out at `now`, or None."""
    deadline = action_deadline(kind, sent_at)
    if deadline is None or now <= deadline:
        return None
    return window_closed_reason(kind)


def window_closed_reason(kind: str) -> str:
    window = ACTION_WINDOWS[kind]
    span = f"{window.days} days" if window.days else f"{int(window.total_seconds() // 60)} minutes"
    verb = "edited" if kind == "edit" else "deleted for everyone"
    return f"WhatsApp's window has passed: a message can be {verb} only within {span} of its send."


def typing_for(low: float | None, high: float | None, rand: Rand) -> float:
    """An instance's default "typing…" time in seconds: uniform in [low, high] (a lone bound is
    the value); 0 when the instance sets neither."""
    if low is None and high is None:
        return 0.0
    a = max(0.0, low if low is not None else high or 0.0)
    b = max(0.0, high if high is not None else a)
    return min(a, b) + abs(b - a) * rand()
