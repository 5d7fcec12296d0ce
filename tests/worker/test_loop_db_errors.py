"""The worker when the database refuses a write in the middle of a tick (SQLite locked by
another process). The loop backs off and runs the tick again; nothing the sessions reported in
the meantime may be lost, or the row says something the worker no longer believes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import DatabaseError, connection

from instances.models import Instance, SandboxPhone
from instances.service import create_instance, request_running
from kernel.clock import FakeClock
from tests.support.worker import make_worker, status_of, tick
from worker.loop import Worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("locks the SQLite file from a second connection")


@contextmanager
def locked_database() -> Iterator[None]:
    """Another process holds SQLite's write lock; our writes give up after 50 ms."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def tick_locked(worker: Worker, clock: FakeClock, seconds: float) -> None:
    """One tick while the database is locked: the loop sees a DatabaseError (and backs off)."""
    with locked_database(), pytest.raises(DatabaseError):
        tick(worker, clock, seconds)


def linked_sandbox(owner: Any, **behaviour: Any) -> Instance:
    instance = create_instance(owner, name="shop", transport="sandbox", sandbox=behaviour)
    SandboxPhone.objects.filter(instance=instance).update(linked_jid="62811000001:1@s.whatsapp.net")
    request_running(instance)
    return instance


def test_a_connect_reported_while_the_database_was_locked_still_reaches_the_row(owner: Any) -> None:
    instance = linked_sandbox(owner, latency_ms=1000)
    clock = FakeClock()
    worker = make_worker(clock)
    tick(worker, clock)
    assert status_of(instance) == "connecting"
    tick_locked(worker, clock, 1)  # the dial succeeds; writing `connected` is refused
    tick(worker, clock, 1, times=3)
    assert status_of(instance) == "connected"


def test_a_failed_dial_reported_while_the_database_was_locked_is_recorded_once(owner: Any) -> None:
    from breaker.models import FailureEvent

    instance = linked_sandbox(owner, connect="fail", latency_ms=1000)
    clock = FakeClock()
    worker = make_worker(clock)
    tick(worker, clock)
    tick_locked(worker, clock, 1)
    tick(worker, clock, 0.1)
    assert FailureEvent.objects.filter(instance=instance, kind="connect_failed").count() == 1
    assert status_of(instance) == "disconnected"


def test_a_stop_interrupted_by_a_locked_database_is_finished_on_the_next_tick(owner: Any) -> None:
    from instances.service import request_stopped

    instance = linked_sandbox(owner)
    clock = FakeClock()
    worker = make_worker(clock)
    tick(worker, clock)
    assert status_of(instance) == "connected"
    request_stopped(instance)
    tick_locked(worker, clock, 1)  # the session is closed; writing `stopped` is refused
    tick(worker, clock, 1, times=2)
    instance.refresh_from_db()
    assert (instance.status, instance.worker_id) == ("stopped", "")
    assert instance.pk not in worker.leased


def wait_for_downloads(worker: Worker, timeout: float = 10.0) -> None:
    import time

    downloads = worker.dispatcher._downloads
    deadline = time.monotonic() + timeout
    while not downloads or not all(d.future.done() for d in downloads.values()):
        assert time.monotonic() < deadline, "the download did not finish"
        time.sleep(0.005)


def test_a_download_finished_while_the_database_was_locked_leaves_no_file(owner: Any, settings: Any) -> None:
    import os

    from queueing.models import QueuedMessage
    from tests.support.media_server import base_url, media_server
    from tests.support.queue import queue_message

    settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS = True
    settings.WAZIPER_SEND_DELAY_MIN = settings.WAZIPER_SEND_DELAY_MAX = 0
    instance = linked_sandbox(owner, receipts="none")
    clock = FakeClock()
    worker = make_worker(clock)
    tick(worker, clock)
    with media_server() as server:
        message = queue_message(
            instance, kind="image", media_url=f"{base_url(server)}/cat.png", created_at=clock.now()
        )
        tick(worker, clock, 1)
        wait_for_downloads(worker)
        tick_locked(worker, clock, 1)  # the file is on disk; recording the hand-off is refused
        tick(worker, clock, settings.WAZIPER_SEND_TIMEOUT + 1)  # the claim goes back to the queue
        wait_for_downloads(worker)
        tick(worker, clock, 1, times=2)
    assert QueuedMessage.objects.get(pk=message.pk).status == "sent"
    media_dir = worker.dispatcher._media_dir
    assert os.listdir(media_dir) == []
    worker.dispatcher.shutdown(clock.now())
