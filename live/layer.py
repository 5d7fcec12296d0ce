"""The in-process channel layer, with its housekeeping run at most once a second.

Channels' InMemoryChannelLayer sweeps every channel and group for expired entries on every
`receive` and `group_send`. With N pages on one instance, one event is N receives, each sweeping
N channels: O(N²). Measured here with 500 pages: 174 ms of sweeping per event, 27 ms with the
sweep throttled (bench/qr_push_latency.py, docs/performance.md). Expiry is housekeeping (a page
gone for a minute, a group membership a day old); a second's delay changes nothing.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer

SWEEP_INTERVAL_S = 1.0


class ThrottledInMemoryChannelLayer(InMemoryChannelLayer):
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_S:
            return
        self._last_sweep = now
        super()._clean_expired()
