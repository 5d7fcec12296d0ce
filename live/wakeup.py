"""PostgreSQL LISTEN/NOTIFY: wake the relay the moment an event commits, instead of at its
next poll. The poll stays as the fallback (and is all SQLite has), so a lost notification or a
listener that cannot connect only costs latency, never an event.

`instances.events.emit_event` sends the NOTIFY inside the writer's transaction; PostgreSQL
delivers it at commit (once per transaction, however many events it wrote).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connections

from instances.events import NOTIFY_CHANNEL as CHANNEL

logger = logging.getLogger("waziper.relay")


class Listener:
    """A daemon thread holding one autocommit connection that LISTENs and calls `wake()`."""

    def __init__(self, wake: Callable[[], None], *, check_every_s: float = 1.0) -> None:
        self.wake = wake
        self.check_every_s = check_every_s
        self.stopping = threading.Event()
        self.listening = threading.Event()  # for tests: LISTEN is in effect
        self.thread = threading.Thread(target=self._run, name="waziper-relay-listen", daemon=True)

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
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    failures = 0
                    while not self.stopping.is_set():
                        # Returns after check_every_s without a notification, so stop() is seen.
                        for _ in conn.notifies(timeout=self.check_every_s, stop_after=1):
                            self.wake()
            except Exception as exc:  # the relay still polls; just try again later
                self.listening.clear()
                failures += 1
                if failures == 1:
                    logger.warning("event relay: LISTEN connection failed (%s); polling only", exc)
                self.stopping.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
