"""The per-process event relay: tail the outbox, fan each event out to this process's pages.

One relay per web process and event loop, started by the first websocket consumer (daphne runs
no ASGI lifespan events, so nothing else could start it) and stopped when the last one leaves.
Each tick costs ONE query on the primary key, `id > position ORDER BY id LIMIT batch`, however
many pages are open; the rows become frames once, in the relay's own thread, and go to the
group `instance.<pk>` of the in-process channel layer, where that instance's consumers are.

Ordering contract with the consumers (instances/consumers.py): a consumer joins its group, then
reads `position`; the relay moves `position` past an event *before* fanning it out, with no
await in between. So every event after the position a consumer read reaches it live, and every
event up to it was committed before the consumer read its snapshot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections

from instances.events import NOTIFY_CHANNEL
from instances.models import InstanceEvent
from kernel.pg_listen import Listener, notify_supported
from operations.frames import event_frame, latest_event_id

logger = logging.getLogger("waziper.relay")

BATCH = 500
# On PostgreSQL ids are taken at INSERT but become visible at COMMIT, so a lower id can appear
# after a higher one. The relay holds back behind a gap this long before deciding the id was
# rolled back. SQLite has one writer at a time and never shows such gaps.
GAP_GRACE_S = 1.0
MAX_BACKOFF_S = 5.0

Row = tuple[int, int, str]  # (event id, instance pk, the frame as JSON text)
Fetch = Callable[[int, int], list[Row]]


def group_name(instance_pk: int) -> str:
    return f"instance.{instance_pk}"


def fetch_after(position: int, limit: int) -> list[Row]:
    """The relay's one query per tick, with the rows turned into frames (QR images rendered)
    and encoded once here: five hundred pages then cost five hundred sends, not encodings."""
    rows = (
        InstanceEvent.objects.filter(id__gt=position)
        .order_by("id")
        .values_list("id", "instance_id", "kind", "payload", "created_at")[:limit]
    )
    return [
        (pk, instance_pk, json.dumps(event_frame(pk, kind, payload, at)))
        for pk, instance_pk, kind, payload, at in rows
    ]


@dataclass
class RelayStats:
    ticks: int = 0
    errors: int = 0
    delivered: int = 0
    gaps_skipped: int = 0
    # Seconds each of the recent fetches took (the relay's database cost per tick).
    fetch_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=2000))


class EventRelay:
    def __init__(
        self,
        *,
        poll_s: float | None = None,
        batch: int = BATCH,
        gap_grace_s: float = GAP_GRACE_S,
        monotonic: Callable[[], float] = time.monotonic,
        fetch: Fetch = fetch_after,
        start_position: Callable[[], int] = latest_event_id,
    ) -> None:
        self.poll_s = poll_s if poll_s is not None else settings.WAZIPER_EVENT_POLL_MS / 1000
        self.batch = batch
        self.gap_grace_s = gap_grace_s
        self.monotonic = monotonic  # injectable: tests step the gap grace without sleeping
        self.fetch = fetch
        self.start_position = start_position
        self.position: int | None = None
        self.subscribers = 0
        self.stats = RelayStats()
        self.task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._gap_seen_at: float | None = None
        self._wake = asyncio.Event()
        self._listener: Listener | None = None

    # --- consumers' side ----------------------------------------------------------------------
    async def subscribe(self) -> int:
        """Count a consumer in, start the relay if needed; return the position to take over from."""
        self.subscribers += 1
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run(), name="waziper-event-relay")
        await self._ready.wait()
        assert self.position is not None
        return self.position

    def unsubscribe(self) -> None:
        """The relay notices at its next tick and stops if nobody is left."""
        self.subscribers = max(0, self.subscribers - 1)

    async def stop(self) -> None:
        """Stop at once (tests, shutdown). The position is forgotten, as when idle."""
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass

    # --- the loop -----------------------------------------------------------------------------
    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        # One thread of our own, keeping its database connection between ticks: a new
        # connection ten times a second would cost more than the query.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="waziper-relay")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run(self) -> None:
        failures = 0
        try:
            while self.position is None:
                if self.subscribers == 0:
                    return
                try:
                    self.position = await self._in_thread(self.start_position)
                except Exception:
                    failures += 1
                    await self._after_error(failures, "reading the outbox's start position")
            self._ready.set()
            self._start_listener()
            logger.debug("event relay started at #%d", self.position)
            failures = 0
            while self.subscribers > 0:
                try:
                    more = await self.tick()
                    failures = 0
                except Exception:
                    failures += 1
                    await self._after_error(failures, "reading the outbox")
                    continue
                if not more:
                    await self._idle()
        finally:
            if self._listener is not None:
                self._listener.stop()
                self._listener = None
            self.task = None
            self.position = None
            self._ready.clear()
            self._gap_seen_at = None
            self._release_thread()

    def _start_listener(self) -> None:
        if notify_supported() and self._listener is None:
            loop = asyncio.get_running_loop()

            def wake(_payload: str) -> None:
                loop.call_soon_threadsafe(self._wake.set)

            self._listener = Listener(NOTIFY_CHANNEL, wake)
            self._listener.start()

    async def _idle(self) -> None:
        """Until the next poll, or sooner when PostgreSQL says an event committed."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as the wake-up does, and stop() would then wait on a relay that never ends.
        try:
            async with asyncio.timeout(self.poll_s):
                await self._wake.wait()
        except TimeoutError:
            pass
        self._wake.clear()

    async def tick(self) -> bool:
        """Read once, fan out what is deliverable. Return True if a full batch came (read again now)."""
        assert self.position is not None
        started = time.perf_counter()
        rows: list[Row] = await self._in_thread(self.fetch, self.position, self.batch)
        self.stats.fetch_seconds.append(time.perf_counter() - started)
        self.stats.ticks += 1
        layer = get_channel_layer()
        for event_id, instance_pk, text in self._deliverable(rows):
            # Position first, then fan out: see the module docstring.
            self.position = event_id
            await layer.group_send(
                group_name(instance_pk), {"type": "outbox.event", "id": event_id, "text": text}
            )
            self.stats.delivered += 1
        return len(rows) >= self.batch and self._gap_seen_at is None

    def _deliverable(self, rows: list[Row]) -> list[Row]:
        """The rows up to the first id gap; past it only once the gap outlived its grace."""
        assert self.position is not None
        # Started on an empty outbox (a fresh database, or cleanup removed every row): its
        # sequence may still be far ahead, so the first row is no gap.
        expected = rows[0][0] if self.position == 0 and rows else self.position + 1
        for index, (event_id, _, _) in enumerate(rows):
            if event_id == expected:
                expected += 1
                continue
            now = self.monotonic()
            if self._gap_seen_at is None:
                self._gap_seen_at = now
            if now - self._gap_seen_at < self.gap_grace_s:
                return rows[:index]
            logger.info("event relay: ids %d–%d never appeared; moving on", expected, event_id - 1)
            self.stats.gaps_skipped += 1
            self._gap_seen_at = None  # a later gap gets its own grace
            expected = event_id + 1
        self._gap_seen_at = None
        return rows

    async def _after_error(self, failures: int, doing: str) -> None:
        """Log (the first failure in full, then every tenth briefly), drop the connection, back off."""
        self.stats.errors += 1
        if failures == 1:
            logger.exception("event relay: error %s; retrying", doing)
        elif failures % 10 == 0:
            logger.warning("event relay: still failing (%d times) %s", failures, doing)
        try:
            await self._in_thread(connections.close_all)
        except Exception:  # the connection may be too broken even to close
            pass
        await asyncio.sleep(min(MAX_BACKOFF_S, self.poll_s * 2 ** min(failures, 10)))

    def _release_thread(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(connections.close_all)
            executor.shutdown(wait=False)


_relays: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EventRelay] = weakref.WeakKeyDictionary()


def get_relay() -> EventRelay:
    """This process's relay for the running loop (daphne has one; each test has its own)."""
    loop = asyncio.get_running_loop()
    relay = _relays.get(loop)
    if relay is None:
        relay = _relays[loop] = EventRelay()
    return relay
