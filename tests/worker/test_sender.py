"""The worker's Dispatcher against real sandbox sessions, driven by a fake clock."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from breaker import service as breaker_service
from instances.models import Instance, SandboxReceived
from instances.service import create_instance
from queueing.media import FetchedMedia
from queueing.models import QueuedMessage
from tests.support.media_server import PNG, base_url, media_server
from tests.support.processes import wait_until
from tests.support.queue import MID, T0, connected_session, queue_many, queue_message, race, statuses
from worker.sender import Dispatcher
from worker.transports.base import RECEIPT, SEND_RESULT, Session

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_spacing(settings: Any) -> None:
    settings.WAZIPER_SEND_DELAY_MIN = 0
    settings.WAZIPER_SEND_DELAY_MAX = 0


class Rig:
    """One dispatcher and the sessions it sends through, as the worker wires them."""

    def __init__(self, sessions: dict[int, Session], worker_id: str = "w1", rand=MID) -> None:
        self.sessions = sessions
        self.dispatcher = Dispatcher(worker_id, rand=rand)
        self.now = T0
        self.dead: list[int] = []

    def tick(self, seconds: float = 0.0) -> bool:
        self.now += timedelta(seconds=seconds)
        for pk, session in self.sessions.items():
            for event in session.poll(self.now):
                if event.kind == SEND_RESULT and self.dispatcher.on_send_result(pk, event.data, self.now):
                    self.dead.append(pk)  # the worker records a failure and reconnects
                elif event.kind == RECEIPT:
                    self.dispatcher.on_receipt(pk, event.data, self.now)
        self.dispatcher.check_timeouts(self.now)
        connected = {pk: s for pk, s in self.sessions.items() if pk not in self.dead}
        return self.dispatcher.step(connected, self.now)

    def drain(self, step_s: float = 1.0, limit: int = 500) -> None:
        for _ in range(limit):
            self.tick(step_s)
            if not QueuedMessage.objects.filter(status__in=("queued", "sending")).exists():
                return
        raise AssertionError(f"queue not drained: {statuses_all()}")


def statuses_all() -> dict[str, int]:
    return {s: QueuedMessage.objects.filter(status=s).count() for s in QueuedMessage.Status.values}


def rig_for(instance: Instance, **behaviour: Any) -> Rig:
    behaviour.setdefault("receipts", "none")  # statuses stay `sent` unless a test wants receipts
    return Rig({instance.pk: connected_session(instance, T0, **behaviour)})


def received(instance: Instance) -> list[str]:
    return list(SandboxReceived.objects.filter(instance=instance).values_list("ref", flat=True))


def test_a_queued_text_reaches_the_phone_once_and_is_read(instance: Instance) -> None:
    message = queue_message(instance, text="hello phone")
    rig = rig_for(instance, receipts="read")
    assert rig.tick() is True
    rig.tick()
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.wa_message_id.startswith("3EB0")
    assert received(instance) == [str(message.message_id)]
    rig.tick(0.2)
    assert QueuedMessage.objects.get(pk=message.pk).status == "delivered"
    rig.tick(1.0)
    message.refresh_from_db()
    assert (message.status, message.delivered_at < message.read_at) == ("read", True)


def test_one_send_is_in_flight_per_instance(instance: Instance) -> None:
    queue_many(instance, 3)
    rig = rig_for(instance, latency_ms=500)
    rig.tick()
    rig.tick(0.4)
    assert statuses(instance) == {"sending": 1, "queued": 2}
    rig.tick(0.1)  # the first result arrives, the next message goes out
    assert statuses(instance) == {"sent": 1, "sending": 1, "queued": 1}


def test_sends_are_spaced_by_a_random_delay(instance: Instance, settings: Any) -> None:
    settings.WAZIPER_SEND_DELAY_MIN, settings.WAZIPER_SEND_DELAY_MAX = 2, 4
    queue_many(instance, 2)
    rig = rig_for(instance)  # rand 0.5: 3 s between hand-offs
    rig.tick()
    rig.tick(2.999)
    assert statuses(instance) == {"sent": 1, "queued": 1}
    rig.tick(0.001)
    assert statuses(instance) == {"sent": 1, "sending": 1}


def test_an_instances_own_spacing_wins_and_zero_is_allowed(instance: Instance, settings: Any) -> None:
    settings.WAZIPER_SEND_DELAY_MIN, settings.WAZIPER_SEND_DELAY_MAX = 2, 5
    Instance.objects.filter(pk=instance.pk).update(send_delay_min=0, send_delay_max=0)
    queue_many(instance, 3)
    rig = rig_for(instance)
    for _ in range(4):
        rig.tick()
    assert statuses(instance) == {"sent": 3}


def test_spacing_survives_a_worker_restart(instance: Instance, settings: Any) -> None:
    settings.WAZIPER_SEND_DELAY_MIN, settings.WAZIPER_SEND_DELAY_MAX = 3, 3
    queue_many(instance, 2)
    rig = rig_for(instance)
    rig.tick()
    rig.tick(1)
    fresh = Rig(rig.sessions, worker_id="w2")  # a new worker process, same instance
    fresh.now = rig.now
    fresh.tick(1.9)
    assert statuses(instance) == {"sent": 1, "queued": 1}
    fresh.tick(0.1)
    assert statuses(instance) == {"sent": 1, "sending": 1}


def test_nothing_due_costs_one_query_and_a_busy_instance_none(
    instance: Instance, owner, django_assert_num_queries
) -> None:
    from instances.service import create_instance

    other = create_instance(owner, transport="sandbox")
    rig = Rig({instance.pk: connected_session(instance), other.pk: connected_session(other)})
    rig.tick()  # loads each instance's pacing once
    with django_assert_num_queries(1):
        assert rig.tick() is False
    queue_message(instance)
    Instance.objects.filter(pk=other.pk).update(send_delay_min=60, send_delay_max=60)
    rig.sessions[instance.pk] = connected_session(instance, latency_ms=10_000)
    rig.tick()
    rig.dispatcher._pace[other.pk].next_at = rig.now + timedelta(hours=1)
    with django_assert_num_queries(0):
        assert rig.tick() is False


def test_transient_failures_retry_with_backoff_then_fail(instance: Instance, settings: Any) -> None:
    settings.WAZIPER_SEND_MAX_ATTEMPTS = 3
    message = queue_message(instance)
    rig = rig_for(instance, send="fail")
    rig.tick()
    rig.tick()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.not_before == rig.now + timedelta(seconds=3.75)
    rig.drain(step_s=30)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 3)
    assert "send failed" in message.last_error
    assert received(instance) == []


def test_flaky_sends_get_through_and_each_message_arrives_once(instance: Instance, settings: Any) -> None:
    settings.WAZIPER_SEND_MAX_ATTEMPTS = 20
    messages = queue_many(instance, 20)
    rig = rig_for(instance, send="flaky", fail_rate=0.5, seed=3)
    rig.drain(step_s=30)
    assert set(statuses(instance)) <= {"sent", "delivered", "read"}
    refs = received(instance)
    assert sorted(refs) == sorted(str(m.message_id) for m in messages)


def test_a_recipient_not_on_whatsapp_fails_at_once(instance: Instance) -> None:
    message = queue_message(instance)
    rig = rig_for(instance, send="reject")
    rig.tick()
    rig.tick()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 1)
    assert message.last_error == "sandbox: recipient is not on WhatsApp"


def test_an_open_breaker_holds_the_queue_and_a_reset_resumes_it(instance: Instance) -> None:
    queue_message(instance)
    rig = rig_for(instance)
    for i in range(15):
        breaker_service.record_failure(
            instance, "connect_failed", "x", now=T0 + timedelta(seconds=i), rand=MID
        )
    assert rig.tick() is False
    assert statuses(instance) == {"queued": 1}
    breaker_service.reset(instance, source="api", now=T0 + timedelta(seconds=20), actor="alice")
    assert rig.tick() is True
    assert statuses(instance) == {"sending": 1}


def test_a_dead_socket_is_reported_and_the_message_waits_for_the_reconnect(instance: Instance) -> None:
    message = queue_message(instance)
    rig = rig_for(instance)
    rig.sessions[instance.pk].drop()  # the socket died; the worker has not noticed yet
    rig.tick()
    rig.tick()
    assert rig.dead == [instance.pk]
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("queued", 0)
    assert received(instance) == []


def test_a_session_lost_mid_send_leaves_the_message_uncertain_and_never_resends_it(
    instance: Instance,
) -> None:
    message = queue_message(instance)
    rig = rig_for(instance, latency_ms=1000)
    rig.tick()
    rig.sessions[instance.pk].close()
    rig.dispatcher.on_session_lost(instance.pk, rig.now)
    message.refresh_from_db()
    assert (message.status, message.last_error) == ("uncertain", "session lost while sending")
    rig.sessions[instance.pk] = connected_session(instance, rig.now)
    for _ in range(3):
        rig.tick(1)
    assert received(instance) == []
    assert QueuedMessage.objects.get(pk=message.pk).status == "uncertain"


def test_a_send_without_result_times_out_to_uncertain_and_a_late_result_settles_it(
    instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_SEND_TIMEOUT = 5
    message = queue_message(instance)
    rig = rig_for(instance, latency_ms=8000)
    rig.tick()
    rig.tick(5)
    assert QueuedMessage.objects.get(pk=message.pk).status == "uncertain"
    rig.tick(3)
    assert QueuedMessage.objects.get(pk=message.pk).status == "sent"
    assert received(instance) == [str(message.message_id)]


def test_a_send_whose_fate_is_unknown_is_uncertain_not_failed_nor_retried(instance: Instance) -> None:
    # The host could not tell whether WhatsApp got it (no ack before the socket dropped).
    error = "websocket disconnected before message send returned response"
    message = queue_message(instance)
    rig = rig_for(instance, latency_ms=600_000)
    rig.tick()
    data = {
        "ref": str(message.message_id),
        "ok": False,
        "error": error,
        "retryable": False,
        "uncertain": True,
    }
    assert rig.dispatcher.on_send_result(instance.pk, data, rig.now) is False
    message.refresh_from_db()
    assert (message.status, message.last_error, rig.dispatcher.busy) == ("uncertain", error, 0)


def test_a_claim_the_dispatcher_lost_track_of_is_settled_by_the_sweep(
    instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_SEND_TIMEOUT = 5
    message = queue_message(instance)
    rig = rig_for(instance, latency_ms=600_000)  # the result would come ten minutes later
    rig.tick()
    rig.dispatcher._in_flight.clear()  # as if its bookkeeping had been lost after the claim
    rig.tick(61)
    assert QueuedMessage.objects.get(pk=message.pk).status == "uncertain"


def test_shutdown_marks_sends_in_flight_uncertain(instance: Instance) -> None:
    message = queue_message(instance)
    rig = rig_for(instance, latency_ms=1000)
    rig.tick()
    assert rig.dispatcher.busy == 1
    rig.dispatcher.shutdown(rig.now)
    assert QueuedMessage.objects.get(pk=message.pk).status == "uncertain"
    assert rig.dispatcher.busy == 0


def test_two_dispatchers_on_one_instance_send_each_message_once(instance: Instance) -> None:
    messages = queue_many(instance, 30)
    a = Rig({instance.pk: connected_session(instance, receipts="none")}, worker_id="w1")
    b = Rig({instance.pk: connected_session(instance, receipts="none")}, worker_id="w2")
    for _ in range(40):
        a.tick(0.1)
        b.tick(0.1)
    assert statuses(instance) == {"sent": 30}
    assert sorted(received(instance)) == sorted(str(m.message_id) for m in messages)
    assert set(QueuedMessage.objects.values_list("claimed_by", flat=True)) == {"w1", "w2"}


# --- media -------------------------------------------------------------------------------------


def wait_for_download(rig: Rig, timeout: float = 10.0) -> None:
    """Tick until the download thread finished and the dispatcher handled it (real, loopback)."""
    deadline = time.monotonic() + timeout
    while not all(d.future.done() for d in rig.dispatcher._downloads.values()):
        assert time.monotonic() < deadline, "download did not finish"
        time.sleep(0.005)
    assert rig.tick() is True


def test_media_is_downloaded_off_the_loop_and_handed_to_the_session(
    instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS = True
    with media_server() as server:
        message = queue_message(instance, kind="image", media_url=f"{base_url(server)}/cat.png", text="a cat")
        rig = rig_for(instance)
        assert rig.tick() is True
        assert QueuedMessage.objects.get(pk=message.pk).handed_off_at is None
        wait_for_download(rig)
        rig.tick()
    got = SandboxReceived.objects.get(instance=instance)
    assert (got.kind, got.text, got.media_bytes, got.filename) == ("image", "a cat", len(PNG), "cat.png")
    assert QueuedMessage.objects.get(pk=message.pk).status == "sent"
    rig.dispatcher.shutdown(rig.now)


def test_media_on_loopback_is_refused_when_private_urls_are_not_allowed(
    instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS = False
    with media_server() as server:
        message = queue_message(instance, kind="image", media_url=f"{base_url(server)}/cat.png")
        rig = rig_for(instance)
        rig.tick()
        wait_for_download(rig)
        assert server.hits == []
    message.refresh_from_db()
    assert message.status == "failed"
    assert "loopback" in message.last_error
    assert received(instance) == []


def test_a_claim_still_downloading_goes_back_to_the_queue_when_the_session_is_lost(
    instance: Instance,
) -> None:
    message = queue_message(instance, kind="document", media_url="http://93.184.215.14/slow.pdf")
    rig = rig_for(instance)
    release = threading.Event()
    rig.dispatcher._fetch = lambda *a, **k: release.wait(10)  # a download still running
    rig.tick()
    rig.dispatcher.on_session_lost(instance.pk, rig.now)
    release.set()
    message.refresh_from_db()
    assert (message.status, message.attempts, message.claimed_by) == ("queued", 0, "")
    rig.dispatcher.shutdown(rig.now)


@pytest.mark.dbengines
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_in_threads_send_each_message_once(instance: Instance) -> None:
    messages = queue_many(instance, 40)
    rigs = [
        Rig({instance.pk: connected_session(instance, receipts="none")}, worker_id=f"w{i}") for i in (1, 2)
    ]

    def run(rig: Rig) -> None:
        for _ in range(400):
            rig.tick(0.05)
            if not QueuedMessage.objects.filter(status__in=("queued", "sending")).exists():
                return

    race(run, [(rig,) for rig in rigs])
    assert statuses(instance) == {"sent": 40}
    assert sorted(received(instance)) == sorted(str(m.message_id) for m in messages)


# --- media downloads shared between tenants ------------------------------------------------------


def sandboxes(user: Any, n: int) -> list[Instance]:
    return [create_instance(user, transport="sandbox") for _ in range(n)]


def test_one_tenants_stalled_media_server_does_not_hold_up_another_tenants_media(
    owner: Any, stranger: Any, settings: Any
) -> None:
    settings.WAZIPER_ALLOW_PRIVATE_MEDIA_URLS = True
    with media_server() as server:
        stalled = sandboxes(owner, 5)
        for instance in stalled:
            queue_many(instance, 2, kind="image", media_url=f"{base_url(server)}/stall")
        theirs = create_instance(stranger, transport="sandbox")
        message = queue_message(theirs, kind="image", media_url=f"{base_url(server)}/cat.png")
        rig = Rig({i.pk: connected_session(i, receipts="none") for i in [*stalled, theirs]})

        def sent() -> bool:
            rig.tick()
            return QueuedMessage.objects.get(pk=message.pk).status == "sent"

        # Real downloads: the bound is generous, the cat takes milliseconds.
        wait_until(sent, timeout=10, interval=0.01, message="the other tenant's media sent")
        wait_until(lambda: len(server.hits) == 3, timeout=10, message="two stalled downloads started")
        assert server.hits.count("/stall") == 2  # WAZIPER_MEDIA_DOWNLOADS_PER_OWNER
        rig.dispatcher.shutdown(rig.now)
    assert statuses(theirs) == {"sent": 1}
    tried = QueuedMessage.objects.filter(instance__in=stalled).exclude(attempts=0, last_error="")
    assert list(tried.values_list("attempts", "last_error")) == []


class GatedFetch:
    """A media fetch that runs until the test opens its URL's gate, then saves a real file."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}

    def gate(self, url: str) -> threading.Event:
        return self.gates.setdefault(url, threading.Event())

    def __call__(self, url: str, *, dest_dir: str, **_: Any) -> FetchedMedia:
        self.gate(url).wait(30)
        path = os.path.join(dest_dir, f"media-{uuid.uuid4().hex}")
        with open(path, "wb") as out:
            out.write(PNG)
        return FetchedMedia(path, len(PNG), "image/png", "cat.png")

    def open_all(self) -> None:
        for gate in self.gates.values():
            gate.set()


def test_time_spent_waiting_for_a_download_thread_is_never_a_failed_attempt(
    owner: Any, stranger: Any, django_user_model: Any
) -> None:
    third = django_user_model.objects.create_user(username="carol")
    instances = [*sandboxes(owner, 2), *sandboxes(stranger, 2), *sandboxes(third, 1)]
    messages = {
        i.pk: queue_message(i, kind="image", media_url=f"http://media.example/{i.pk}.png") for i in instances
    }
    fetch = GatedFetch()
    for message in messages.values():
        fetch.gate(message.media_url)
    rig = Rig({i.pk: connected_session(i, receipts="none") for i in instances})
    rig.dispatcher._fetch = fetch
    try:
        rig.tick()  # five claims, four threads: the stranger's second instance waits
        waiting = messages[instances[3].pk]
        rig.now += timedelta(seconds=25)
        first = instances[0].pk
        fetch.gate(messages[first].media_url).set()
        download = rig.dispatcher._downloads[first]
        wait_until(lambda: download.future.done(), timeout=10, message="the first download done")
        rig.tick()  # the first is handed off; its thread goes to the one that waited
        rig.tick(10)  # 35 s after the claims (limit 20 + 10 s): only 10 s after the wait ended
        waiting.refresh_from_db()
        assert (waiting.status, waiting.attempts, waiting.last_error) == ("sending", 0, "")
    finally:
        fetch.open_all()
        rig.dispatcher.shutdown(rig.now)


def test_the_downloads_that_ran_past_the_limit_still_fail(owner: Any) -> None:
    instance = create_instance(owner, transport="sandbox")
    message = queue_message(instance, kind="image", media_url="http://media.example/slow.png")
    fetch = GatedFetch()
    rig = Rig({instance.pk: connected_session(instance, receipts="none")})
    rig.dispatcher._fetch = fetch
    try:
        rig.tick()
        rig.tick(30)  # WAZIPER_MEDIA_TIMEOUT 20 s + the 10 s backstop
        message.refresh_from_db()
        assert (message.status, message.attempts, message.last_error) == (
            "queued",
            1,
            "media download timed out",
        )
    finally:
        fetch.open_all()
        rig.dispatcher.shutdown(rig.now)
