"""An instance deleted while the worker holds it: whichever step finds out (a write that hits the
foreign key, a row that is gone), the worker drops that instance, closes its session, removes
its session store, and keeps serving every other tenant."""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
from django.conf import settings
from django.db import DatabaseError

from instances.models import Instance, SandboxPhone
from instances.service import create_instance, delete_instance, request_running
from kernel.clock import FakeClock
from queueing.models import QueuedMessage
from tests.support.queue import queue_message
from tests.support.worker import make_worker, status_of, tick
from worker.loop import Worker
from worker.transports import base
from worker.transports.base import TransportEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.dbengines]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _no_send_spacing(settings: Any) -> None:
    settings.WAZIPER_SEND_DELAY_MIN = settings.WAZIPER_SEND_DELAY_MAX = 0


def sandbox(user: Any, name: str, **behaviour: Any) -> Instance:
    instance = create_instance(user, name=name, transport="sandbox", sandbox=behaviour)
    request_running(instance)
    return instance


def linked_sandbox(user: Any, name: str) -> Instance:
    instance = sandbox(user, name)
    SandboxPhone.objects.filter(instance=instance).update(linked_jid="62811000001:1@s.whatsapp.net")
    return instance


def session_store(instance: Instance) -> str:
    """A session store on disk, as a real transport leaves one."""
    path = os.path.join(settings.WAZIPER_SESSIONS_DIR, instance.instance_id)
    os.makedirs(path, exist_ok=True)
    return path


def assert_other_tenant_still_served(worker: Worker, clock: FakeClock, other: Instance) -> None:
    message = queue_message(other, created_at=clock.now())
    tick(worker, clock, 0.3, times=4)
    message.refresh_from_db()
    assert message.status in (QueuedMessage.Status.SENT, QueuedMessage.Status.DELIVERED)


def test_deleting_an_instance_whose_connect_is_failing_keeps_serving_the_other_tenant(
    owner: Any, stranger: Any, clock: FakeClock
) -> None:
    failing = sandbox(owner, "failing", connect="fail", latency_ms=1000)
    other = linked_sandbox(stranger, "other")
    worker = make_worker(clock)
    tick(worker, clock)
    assert status_of(failing) == "connecting"
    store = session_store(failing)
    delete_instance(failing)
    tick(worker, clock, 1, times=3)  # the dial fails: its failure cannot be recorded for a gone row
    assert failing.pk not in worker.leased
    assert not os.path.exists(store)
    assert status_of(other) == "connected"
    assert_other_tenant_still_served(worker, clock, other)


def test_deleting_an_instance_showing_a_qr_keeps_serving_the_other_tenant(
    owner: Any, stranger: Any, clock: FakeClock
) -> None:
    showing_qr = sandbox(owner, "pairing")
    other = linked_sandbox(stranger, "other")
    worker = make_worker(clock)
    tick(worker, clock)
    assert status_of(showing_qr) == "qr_pending"
    session = worker.leased[showing_qr.pk].session
    tick(worker, clock, 55)  # the heartbeat (which would notice) has just run
    delete_instance(showing_qr)
    tick(worker, clock, 5)  # the QR rotates: the new code cannot be stored for a gone row
    tick(worker, clock, 1, times=2)
    assert showing_qr.pk not in worker.leased
    assert session is not None
    assert session.phase == "closed"
    assert_other_tenant_still_served(worker, clock, other)


def test_an_instance_deleted_while_its_connect_hangs_is_dropped_at_the_timeout(
    owner: Any, stranger: Any, clock: FakeClock
) -> None:
    hanging = sandbox(owner, "hanging", connect="hang")
    other = linked_sandbox(stranger, "other")
    worker = make_worker(clock)
    tick(worker, clock)
    tick(worker, clock, settings.WAZIPER_CONNECT_TIMEOUT - 5)  # the heartbeat has just run
    delete_instance(hanging)
    tick(worker, clock, 5)  # the timeout's failure hits the gone row
    tick(worker, clock, 0.1)
    assert hanging.pk not in worker.leased
    assert_other_tenant_still_served(worker, clock, other)


def test_an_instance_deleted_while_connected_is_dropped_when_its_session_drops(
    owner: Any, stranger: Any, clock: FakeClock
) -> None:
    doomed = linked_sandbox(owner, "doomed")
    other = linked_sandbox(stranger, "other")
    worker = make_worker(clock)
    tick(worker, clock)
    session = worker.leased[doomed.pk].session
    delete_instance(doomed)
    session.drop()  # the drop is a failure to record for a gone row
    tick(worker, clock, 0.1)
    assert doomed.pk not in worker.leased
    assert_other_tenant_still_served(worker, clock, other)


def test_a_send_in_flight_when_its_instance_is_deleted_drops_the_instance_and_frees_the_sender(
    owner: Any, stranger: Any, clock: FakeClock
) -> None:
    doomed = linked_sandbox(owner, "doomed")
    other = linked_sandbox(stranger, "other")
    worker = make_worker(clock)
    tick(worker, clock)
    queue_message(doomed, created_at=clock.now())
    tick(worker, clock, 0.1)
    assert worker.dispatcher.busy == 1  # handed to the session; its result follows
    delete_instance(doomed)
    # Reading the session now writes for a gone row (the simulated phone records the message).
    tick(worker, clock, 1, times=3)
    assert doomed.pk not in worker.leased
    assert worker.dispatcher.busy == 0
    assert_other_tenant_still_served(worker, clock, other)


def test_an_instance_deleted_between_the_lease_and_the_connect_is_dropped_at_once(
    owner: Any, clock: FakeClock
) -> None:
    instance = sandbox(owner, "brief", latency_ms=1000)
    worker = make_worker(clock)
    worker.step_acquire(clock.now())
    assert instance.pk in worker.leased
    Instance.objects.filter(pk=instance.pk).delete()
    worker.step_connect(clock.now())
    assert instance.pk not in worker.leased


def test_a_worker_stopping_with_a_deleted_instance_still_releases_the_others(
    owner: Any, stranger: Any, clock: FakeClock
) -> None:
    doomed = linked_sandbox(owner, "doomed")
    other = linked_sandbox(stranger, "other")
    worker = make_worker(clock)
    tick(worker, clock)
    delete_instance(doomed)
    worker.shutdown(clock.now())
    other.refresh_from_db()
    assert other.worker_id == ""
    assert worker.leased == {}


def test_an_event_that_always_fails_to_record_is_dropped_after_five_attempts(
    owner: Any, stranger: Any, clock: FakeClock, caplog: Any
) -> None:
    caplog.set_level(logging.ERROR, logger="waziper.worker")
    poisoned = linked_sandbox(owner, "poisoned")
    other = linked_sandbox(stranger, "other")
    worker = make_worker(clock)
    tick(worker, clock)
    session = worker.leased[poisoned.pk].session
    # A session reporting a pairing without a JID: the row's NOT NULL refuses it every time.
    session.events.append(TransportEvent(base.PAIRED, {"jid": None}))
    for _ in range(5):  # handled once, replayed four times: each tick backs off
        with pytest.raises(DatabaseError):
            tick(worker, clock, 0.1)
    tick(worker, clock, 0.1)
    assert worker.leased[poisoned.pk].unhandled == []
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped == [f"instance {poisoned.instance_id}: event paired failed 5 times; dropped"]
    assert_other_tenant_still_served(worker, clock, other)
