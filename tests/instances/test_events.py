"""instances.events: the outbox and the listeners other apps hand it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, transaction

from instances import events
from instances.models import Instance, InstanceEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[list[tuple[InstanceEvent, bool]]]:
    calls: list[tuple[InstanceEvent, bool]] = []

    def listener(event: InstanceEvent) -> None:
        calls.append((event, connection.in_atomic_block))

    events.add_listener(listener)
    yield calls
    events.remove_listener(listener)


def test_a_listener_hears_each_event_inside_a_transaction(instance: Instance, heard: list) -> None:
    event = events.emit_event(instance, "status", {"status": "starting"})
    assert heard == [(event, True)]


def test_a_listener_that_fails_rolls_the_event_back(instance: Instance) -> None:
    def broken(event: InstanceEvent) -> None:
        raise RuntimeError("listener failed")

    events.add_listener(broken)
    try:
        with pytest.raises(RuntimeError), transaction.atomic():  # the change's transaction
            events.emit_event(instance, "status", {"status": "starting"})
    finally:
        events.remove_listener(broken)
    assert not InstanceEvent.objects.filter(instance=instance).exists()


def test_adding_a_listener_twice_calls_it_once(instance: Instance) -> None:
    calls: list[InstanceEvent] = []
    events.add_listener(calls.append)
    events.add_listener(calls.append)
    try:
        events.emit_event(instance, "status", {"status": "starting"})
    finally:
        events.remove_listener(calls.append)
    assert len(calls) == 1
