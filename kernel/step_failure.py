"""What a process's main loop (the worker, the webhook deliverer) does when one of its steps
fails: it lives on, and tries again after a pause."""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError, close_old_connections

MAX_PAUSE_S = 5.0


def pause_s(failures_in_a_row: int) -> float:
    """0.2 s after the first failure, doubling with each one in a row, at most MAX_PAUSE_S."""
    return min(MAX_PAUSE_S, 0.1 * 2**failures_in_a_row)


def pause_after_failed_step(
    exc: Exception, failures_in_a_row: int, what: str, logger: logging.Logger
) -> None:
    """Log `exc` (a locked or unreachable database is a warning; anything else, a bug, with its
    traceback), drop the database connection it may have broken, and wait before the next try.
    Call it from the `except` block that caught `exc`."""
    delay = pause_s(failures_in_a_row)
    if isinstance(exc, DatabaseError):
        logger.warning("database error (%s); retrying in %.1fs", exc, delay)
    else:
        logger.exception("%s failed; retrying in %.1fs", what, delay)
    close_old_connections()
    time.sleep(delay)
