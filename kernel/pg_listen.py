"""PostgreSQL LISTEN/NOTIFY: wake a waiter the moment a writer commits, instead of at its next
poll. The poll stays as the fallback (and is all SQLite has), so a lost notification or a
listener that cannot connect only costs latency, never an answer.

Writers send `NOTIFY <channel>` inside their transaction; PostgreSQL delivers it at commit (once
per transaction and payload).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connections

logger = logging.getLogger("waziper.listen")


def notify_supported() -> bool:
    return connections["default"].vendor == "postgresql"


def notify(channel: str, payload: str = "") -> None:
    """Call inside the writing transaction (a no-op on SQLite)."""
    if notify_supported():
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [channel, payload])


class Listener:
    """A daemon thread holding one autocommit connection that LISTENs on `channel` and calls
    `wake(payload)` for every notification."""

    def __init__(self, channel: str, wake: Callable[[str], None], *, check_every_s: float = 1.0) -> None:
        self.channel = channel
        self.wake = wake
        self.check_every_s = check_every_s
        self.stopping = threading.Event()
        self.listening = threading.Event()  # for tests: LISTEN is in effect
        self.thread = threading.Thread(target=self._run, name=f"waziper-listen-{channel}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def _run(self) -> None:
        import psycopg

        params = connections["default"].get_connection_params()
        failures = 0
        while not self.stopping.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    self.listening.set()
                    failures = 0
                    while not self.stopping.is_set():
                        # Returns after check_every_s without a notification, so stop() is seen.
                        for note in conn.notifies(timeout=self.check_every_s, stop_after=1):
                            self.wake(note.payload)
            except Exception as exc:  # the waiter still polls; just try again later
                self.listening.clear()
                failures += 1
                if failures == 1:
                    logger.warning("LISTEN %s failed (%s); polling only", self.channel, exc)
                self.stopping.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
