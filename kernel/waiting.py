"""Waiting in a view for the worker to write something (a QR code, a command's result).

The database is the only channel to the worker (docs/architecture.md), so a view that waits
looks again after each `interval`. Views are sync and daphne runs each request in its own
thread, so a sleep blocks only the request that asked to wait; `wake_all()` (called when
PostgreSQL notifies a commit) ends every current sleep of the process early. `sleep` and
`clock` are module attributes so tests can swap in a fake clock (and run a worker step on each
"sleep") instead of really waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL_S = 0.1  # the worker takes commands and writes QR codes on a ~0.1 s tick

_wakeup = threading.Condition()


def _sleep_until_woken(seconds: float) -> None:
    with _wakeup:
        _wakeup.wait(seconds)


def wake_all() -> None:
    """End every sleep of this process's waiting requests now: they look again at once."""
    with _wakeup:
        _wakeup.notify_all()


sleep: Callable[[float], None] = _sleep_until_woken
clock: Callable[[], float] = time.monotonic


# With a first interval, each pause is this much longer than the one before, up to `interval`.
GROWTH = 1.5


def poll(
    check: Callable[[], T],
    timeout: float,
    interval: float = INTERVAL_S,
    *,
    first_interval: float | None = None,
) -> T | None:
    """Call `check` until it returns something other than None or `timeout` seconds pass.

    `check` runs at least once (so `timeout=0` is "look once") and once more at the deadline.
    With `first_interval`, the pauses start that short and grow by half each time up to
    `interval`: an answer that comes within a few milliseconds is seen within a few more
    (rather than after a whole interval), and one that takes long still costs a look per
    `interval`.
    """
    deadline = clock() + max(0.0, timeout)
    pause = interval if first_interval is None else min(first_interval, interval)
    while True:
        found = check()
        if found is not None:
            return found
        remaining = deadline - clock()
        if remaining <= 0:
            return None
        sleep(min(pause, remaining))
        pause = min(interval, pause * GROWTH)
