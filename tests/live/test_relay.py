"""The outbox relay: another process's events reach this process's pages once, in order."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from instances.events import emit_event
from instances.models import Instance, InstanceEvent
from instances.service import create_instance
from live.relay import EventRelay, fetch_after, get_relay
from tests.support import live as live_support
from tests.support.live import communicator, session_cookie
from tests.support.processes import child_env

live, live_settings = live_support.live, live_support.live_settings  # fixtures
ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live"), pytest.mark.dbengines]
db = database_sync_to_async


def write_events_elsewhere(settings: Any, pks: list[int], count: int) -> subprocess.Popen:
    """Another process (as the worker is) appends `count` status events, round-robin over `pks`."""
    script = (
        "from instances.events import emit_event\n"
        f"pks = {pks!r}\n"
        f"for n in range({count}):\n"
        "    emit_event(pks[n % len(pks)], 'status', {'status': 'connecting', 'detail': f'n={n}'})\n"
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=child_env(settings)
    )


async def open_page(instance: Instance, user: Any, since: int | None = None) -> tuple[Any, int]:
    query = f"?since={since}" if since is not None else ""
    cookie = await db(session_cookie)(user)
    comm = communicator(f"/ws/instances/{instance.instance_id}/{query}", cookie)
    connected, _ = await comm.connect()
    assert connected
    snapshot = await comm.receive_json_from()
    return comm, snapshot["last_event_id"]


async def event_ids(instance: Instance) -> list[int]:
    return await db(lambda: list(instance.events.order_by("id").values_list("id", flat=True)))()


async def receive_ids(comm: Any, until: int, timeout: float = 10.0) -> list[int]:
    ids: list[int] = []
    while not ids or ids[-1] < until:
        ids.append((await comm.receive_json_from(timeout=timeout))["id"])
    return ids


async def test_events_written_by_another_process_arrive_once_and_in_order(
    instance: Instance, owner, settings
) -> None:
    other = await db(create_instance)(owner, name="other", transport="sandbox")
    page, _ = await open_page(instance, owner)
    writer = write_events_elsewhere(settings, [instance.pk, other.pk], 40)
    assert await db(writer.wait)() == 0
    expected = await event_ids(instance)
    assert len(expected) == 20
    assert await receive_ids(page, expected[-1]) == expected
    assert await page.receive_nothing(timeout=0.1)
    await page.disconnect()


async def test_nothing_is_lost_or_repeated_across_a_relay_restart(
    instance: Instance, owner, settings
) -> None:
    page, _ = await open_page(instance, owner)
    writer = write_events_elsewhere(settings, [instance.pk], 60)
    seen = [(await page.receive_json_from(timeout=10))["id"] for _ in range(5)]
    # The relay dies mid-stream while the writer goes on; the page reconnects from what it saw.
    await get_relay().stop()
    await page.disconnect()
    assert await db(writer.wait)() == 0
    page, _ = await open_page(instance, owner, since=seen[-1])
    expected = await event_ids(instance)
    seen += await receive_ids(page, expected[-1])
    assert seen == expected
    late = await db(emit_event)(instance, "status", {"status": "connected", "detail": "after"})
    assert (await page.receive_json_from())["id"] == late.id
    await page.disconnect()


async def test_a_stop_that_comes_as_the_relay_is_woken_still_stops_it() -> None:
    """stop() cancels the relay's task; a cancellation arriving in the same turn of the loop as
    a wake-up (PostgreSQL's NOTIFY) must not be taken for the wake-up, or stop() waits forever."""
    relay = EventRelay(poll_s=10)
    idle = asyncio.ensure_future(relay._idle())
    await asyncio.sleep(0)  # it waits for a wake-up
    relay._wake.set()
    idle.cancel()
    with pytest.raises(asyncio.CancelledError):
        await idle


async def test_the_relay_survives_database_errors_and_delivers_afterwards(instance: Instance, owner) -> None:
    relay = get_relay()
    failures = {"left": 3}

    def flaky_fetch(position: int, limit: int) -> list:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("database is locked")
        return fetch_after(position, limit)

    relay.fetch = flaky_fetch
    page, _ = await open_page(instance, owner)
    event = await db(emit_event)(instance, "status", {"status": "starting", "detail": ""})
    assert (await page.receive_json_from(timeout=5))["id"] == event.id
    assert relay.stats.errors == 3
    assert relay.task is not None
    await page.disconnect()


async def test_each_tick_is_one_query_however_many_pages_are_open(owner) -> None:
    instances = [await db(create_instance)(owner, name=f"i{n}", transport="sandbox") for n in range(4)]
    relay = get_relay()
    per_tick: list[int] = []

    def counting_fetch(position: int, limit: int) -> list:
        with CaptureQueriesContext(connection) as queries:
            rows = fetch_after(position, limit)
        per_tick.append(len(queries))
        return rows

    relay.fetch = counting_fetch
    pages = [(await open_page(i, owner))[0] for i in instances for _ in range(5)]
    for i in instances:
        await db(emit_event)(i, "status", {"status": "starting", "detail": ""})
    for page in pages:
        assert (await page.receive_json_from(timeout=5))["type"] == "status"
    assert per_tick
    assert set(per_tick) == {1}
    for page in pages:
        await page.disconnect()


async def test_the_relay_stops_when_the_last_page_leaves_and_restarts_with_the_next(
    instance: Instance, owner
) -> None:
    relay = get_relay()
    page, _ = await open_page(instance, owner)
    task = relay.task
    assert task is not None
    assert relay.subscribers == 1
    await page.disconnect()
    await task  # it notices within one tick
    assert relay.task is None
    assert relay.position is None
    page, _ = await open_page(instance, owner)
    assert relay.task is not None
    await page.disconnect()


# --- id gaps (PostgreSQL commits a lower id after a higher one) --------------------------------


def _row(event_id: int) -> tuple[int, int, str]:
    return (event_id, 1, json.dumps({"type": "status", "id": event_id}))


async def _received(channel: str) -> list[int]:
    layer = get_channel_layer()
    ids = []
    while layer.channels.get(channel):
        ids.append((await layer.receive(channel))["id"])
    return ids


async def listening_relay(fetch: Any, **kwargs: Any) -> tuple[EventRelay, str]:
    """A relay at position 10 over a fake outbox, and a channel in instance 1's group."""
    relay = EventRelay(fetch=fetch, **kwargs)
    relay.position = 10
    channel = await get_channel_layer().new_channel()
    await get_channel_layer().group_add("instance.1", channel)
    return relay, channel


async def test_a_lower_id_committed_late_is_still_delivered_in_order() -> None:
    batches = [[_row(11), _row(13)], [_row(12), _row(13)], []]
    relay, channel = await listening_relay(
        lambda position, limit: [r for r in batches.pop(0) if r[0] > position]
    )
    await relay.tick()
    assert await _received(channel) == [11]
    await relay.tick()
    assert await _received(channel) == [12, 13]


async def test_an_id_that_never_appears_is_skipped_after_the_grace() -> None:
    rows = [_row(11), _row(13)]
    clock = {"now": 100.0}
    relay, channel = await listening_relay(
        lambda position, limit: [r for r in rows if r[0] > position],
        gap_grace_s=1.0,
        monotonic=lambda: clock["now"],
    )
    await relay.tick()
    assert await _received(channel) == [11]
    clock["now"] += 0.999
    await relay.tick()
    assert await _received(channel) == []
    clock["now"] += 0.001
    await relay.tick()
    assert await _received(channel) == [13]
    assert relay.stats.gaps_skipped == 1


def test_the_relay_reads_the_outbox_by_primary_key(instance: Instance) -> None:
    now = timezone.now()
    for _ in range(3):
        emit_event(instance, "status", {"status": "starting"}, now=now)
    first = InstanceEvent.objects.order_by("id").first()
    with CaptureQueriesContext(connection) as queries:
        rows = fetch_after(first.id, 500)
    assert [r[0] for r in rows] == list(
        InstanceEvent.objects.filter(id__gt=first.id).values_list("id", flat=True)
    )
    if connection.vendor == "sqlite":  # PostgreSQL's planner rightly scans a table this small
        sql = queries.captured_queries[0]["sql"]
        plan = connection.cursor().execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        assert "PRIMARY KEY" in str(plan), plan


async def test_the_layer_sweeps_expired_entries_at_most_once_a_second(monkeypatch) -> None:
    from live import layer as layer_module

    sweeps: list[float] = []
    monkeypatch.setattr(layer_module.InMemoryChannelLayer, "_clean_expired", lambda self: sweeps.append(1))
    channel_layer = layer_module.ThrottledInMemoryChannelLayer()
    channel = await channel_layer.new_channel()
    await channel_layer.group_add("instance.1", channel)
    for _ in range(50):
        await channel_layer.group_send("instance.1", {"type": "outbox.event"})
        await channel_layer.receive(channel)
    assert len(sweeps) == 1


async def test_on_postgresql_a_commit_wakes_the_relay_before_its_poll(
    instance: Instance, owner, settings
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite relies on the poll (run by make test's PG pass)")
    relay = get_relay()
    relay.poll_s = 30.0  # only a notification can deliver within the test's deadline
    page, _ = await open_page(instance, owner)
    assert await db(relay._listener.listening.wait)(10)
    writer = write_events_elsewhere(settings, [instance.pk], 1)
    assert await db(writer.wait)() == 0
    expected = await event_ids(instance)
    assert await receive_ids(page, expected[-1], timeout=5) == expected
    await page.disconnect()
