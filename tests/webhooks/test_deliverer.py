"""The deliverer against a real receiver on loopback, stepped on a fake clock: signing, both
formats, the retry schedule, 410, the endpoint breaker, fairness between endpoints, the SSRF
guard at delivery, and a graceful stop."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection
from standardwebhooks.webhooks import Webhook

from instances.events import emit_event
from instances.models import Instance
from kernel.clock import FakeClock
from tests.support.webhook_receiver import Receiver
from tests.support.webhooks import emit, inbound_message, make_endpoint, run_until_idle
from webhooks import deliveries
from webhooks.deliverer import Deliverer, _Lane
from webhooks.models import Deliverer as DelivererRow
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
Status = WebhookDelivery.Status
CONNECTED = {"status": "connected", "detail": "", "jid": "6281234567890:7@s.whatsapp.net"}


def test_an_event_reaches_the_receiver_signed_and_verifiable(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    _, secret = make_endpoint(owner, receiver.url(), instance=instance)
    event = emit(instance, "status", CONNECTED, clock)
    run_until_idle(make_deliverer(), clock)
    [got] = receiver.received
    body = Webhook(secret).verify(got.body, got.headers)
    assert got.webhook_id == f"evt_{event.pk}"
    assert body["type"] == "instance.status"
    assert body["data"] == {
        "status": "connected",
        "detail": "",
        "jid": "6281234567890:7@s.whatsapp.net",
        "instance_id": instance.instance_id,
    }
    assert WebhookDelivery.objects.get().status == Status.DELIVERED


def test_the_waziper_format_posts_the_waziper_servers_body_signed_too(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    _, secret = make_endpoint(owner, receiver.url(), instance=instance, format="waziper")
    emit(instance, "message.received", inbound_message(instance), clock)
    run_until_idle(make_deliverer(), clock)
    [got] = receiver.received
    body = Webhook(secret).verify(got.body, got.headers)
    assert body["instance_id"] == instance.instance_id
    assert body["data"]["event"] == "messages.upsert"
    message = body["data"]["data"]["messages"][0]
    assert message["key"] == {
        "remoteJid": "6281234567890@s.whatsapp.net",
        "fromMe": False,
        "id": "3EB0C767D26A1D2E4A47",
    }
    assert message["message"] == {"conversation": "halo"}
    assert message["pushName"] == "Budi"


def test_a_failed_delivery_is_retried_on_the_schedule_with_the_same_webhook_id(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    make_endpoint(owner, receiver.url(), instance=instance)
    emit(instance, "status", CONNECTED, clock)
    deliverer = make_deliverer()
    receiver.answer = 500
    run_until_idle(deliverer, clock)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_status_code, delivery.attempts) == (Status.FAILED, 500, 1)
    assert delivery.next_attempt_at == clock.now() + timedelta(seconds=5)  # rand 0.5: no jitter
    assert delivery.last_response_excerpt == "answer 500"
    clock.advance(4.9)
    run_until_idle(deliverer, clock)
    assert len(receiver.received) == 1
    receiver.answer = 200
    clock.advance(0.1)
    run_until_idle(deliverer, clock)
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id
    assert WebhookDelivery.objects.get().status == Status.DELIVERED


def test_a_delivery_is_dead_after_the_last_attempt_of_the_schedule(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any, settings: Any
) -> None:
    settings.WAZIPER_WEBHOOK_BREAKER_THRESHOLD = 100
    make_endpoint(owner, receiver.url(), instance=instance)
    emit(instance, "status", CONNECTED, clock)
    receiver.answer = 502
    deliverer = make_deliverer()
    for _ in range(10):
        run_until_idle(deliverer, clock)
        clock.advance(13 * 3600)
    run_until_idle(deliverer, clock)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (Status.DEAD, 10, None)
    assert len(receiver.received) == 10


def test_retry_after_from_the_receiver_is_honoured(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    make_endpoint(owner, receiver.url(), instance=instance)
    emit(instance, "status", CONNECTED, clock)
    receiver.answer, receiver.retry_after = 429, "120"
    run_until_idle(make_deliverer(), clock)
    assert WebhookDelivery.objects.get().next_attempt_at == clock.now() + timedelta(seconds=120)


def test_410_gone_disables_the_endpoint_and_nothing_more_is_posted(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    endpoint, _ = make_endpoint(owner, receiver.url(), instance=instance)
    receiver.answer = 410
    emit(instance, "status", CONNECTED, clock)
    deliverer = make_deliverer()
    run_until_idle(deliverer, clock)
    endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert "410 Gone" in endpoint.disabled_reason
    emit(instance, "status", {"status": "disconnected", "detail": ""}, clock)
    clock.advance(3600)
    run_until_idle(deliverer, clock)
    assert len(receiver.received) == 1


def test_a_hanging_receiver_does_not_delay_another_endpoints_deliveries(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    make_endpoint(owner, receiver.url("/hangs"), instance=instance)
    make_endpoint(owner, receiver.url("/fine"), instance=instance)
    receiver.hanging.add("/hangs")
    for n in range(5):
        emit(instance, "status", {"status": "connected", "detail": f"n={n}"}, clock)
    deliverer = make_deliverer(per_endpoint=2)
    started = time.monotonic()
    for _ in range(10):
        deliverer.step(clock.now())
        if len(receiver.at("/fine")) == 5:
            break
        time.sleep(0.05)
    receiver.wait_for(5, "/fine", timeout=2)
    assert time.monotonic() - started < 2
    # The hanging endpoint holds its own two lanes and no more.
    assert len(receiver.at("/hangs")) == 2
    receiver.release.set()
    run_until_idle(deliverer, clock)
    assert WebhookDelivery.objects.filter(status=Status.DELIVERED).count() == 10


def test_a_dead_receiver_costs_one_probe_per_cooldown_and_gets_everything_once_back(
    owner: Any, instance: Instance, clock: FakeClock, make_deliverer: Any, settings: Any
) -> None:
    settings.WAZIPER_WEBHOOK_BREAKER_THRESHOLD = 3
    settings.WAZIPER_WEBHOOK_BREAKER_COOLDOWN = 60
    receiver = Receiver().start()
    receiver.stop()  # connections refused from now on
    try:
        endpoint, _ = make_endpoint(owner, receiver.url(), instance=instance)
        for n in range(20):
            emit(instance, "status", {"status": "connected", "detail": f"n={n}"}, clock)
        deliverer = make_deliverer(per_endpoint=1)
        run_until_idle(deliverer, clock)
        endpoint.refresh_from_db()
        assert endpoint.breaker_state == "open"
        tried = sum(WebhookDelivery.objects.values_list("attempts", flat=True))
        assert tried == 3  # a failure pauses the lane until the breaker has had its say
        for _ in range(5):  # retries fall due during the cooldown: none is attempted
            clock.advance(10)
            run_until_idle(deliverer, clock)
        assert sum(WebhookDelivery.objects.values_list("attempts", flat=True)) == tried
        clock.advance(15)  # past the cooldown: one probe, which fails and reopens it
        run_until_idle(deliverer, clock)
        assert sum(WebhookDelivery.objects.values_list("attempts", flat=True)) == tried + 1
        receiver.start()  # back, on the same port
        clock.advance(121)  # the doubled cooldown
        run_until_idle(deliverer, clock)
        assert len({r.webhook_id for r in receiver.received}) == 20
        endpoint.refresh_from_db()
        assert endpoint.breaker_state == "closed"
    finally:
        receiver.close()


def test_an_address_the_guard_refuses_is_never_posted_to(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any, settings: Any
) -> None:
    make_endpoint(owner, receiver.url(), instance=instance)  # saved while loopback was allowed
    settings.WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS = False
    emit(instance, "status", CONNECTED, clock)
    run_until_idle(make_deliverer(), clock)
    assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.FAILED
    assert "refused by the SSRF guard" in delivery.last_error


def test_a_stop_gives_back_what_was_claimed_but_not_posted(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    make_endpoint(owner, receiver.url(), instance=instance)
    receiver.hanging.add("/hook")
    for n in range(6):
        emit(instance, "status", {"status": "connected", "detail": f"n={n}"}, clock)
    deliverer = make_deliverer(per_endpoint=2)
    deliverer.step(clock.now())
    receiver.wait_for(2)
    deliverer.DRAIN_S = 0.2
    deliverer.shutdown(clock.now())
    rows = WebhookDelivery.objects.all()
    assert sorted(r.status for r in rows) == ["delivering"] * 2 + ["pending"] * 4
    assert {r.attempts for r in rows if r.status == Status.PENDING} == {0}


def test_an_endpoint_disabled_meanwhile_is_not_claimed(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    endpoint, _ = make_endpoint(owner, receiver.url(), instance=instance)
    emit(instance, "status", CONNECTED, clock)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    run_until_idle(make_deliverer(), clock)
    assert receiver.received == []


@pytest.mark.django_db(transaction=True)
def test_a_database_busy_at_start_up_is_waited_out(
    owner: Any, instance: Instance, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = deliveries.release_all_of
    calls: list[int] = []

    def locked_once(owner_id: str) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real(owner_id)

    monkeypatch.setattr(deliveries, "release_all_of", locked_once)
    make_endpoint(owner, receiver.url(), instance=instance)
    deliverer = Deliverer("starts-late")

    def run() -> None:
        try:
            deliverer.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        emit_event(instance, "status", CONNECTED)
        receiver.wait_for(1, timeout=20)
    finally:
        deliverer.shutdown_requested = True
        thread.join(30)
    assert len(calls) == 2
    assert DelivererRow.objects.get().stopped_at is not None


def test_a_lane_filled_while_every_thread_was_busy_gets_one_when_a_thread_frees(
    owner: Any, instance: Instance, receiver: Receiver, clock: FakeClock, make_deliverer: Any
) -> None:
    make_endpoint(owner, receiver.url("/first"), instance=instance, events_filter=["instance.status"])
    second, _ = make_endpoint(
        owner, receiver.url("/second"), instance=instance, events_filter=["breaker.opened"]
    )
    receiver.hanging.add("/first")
    emit(instance, "status", CONNECTED, clock)
    for _ in range(3):
        emit(instance, "breaker", {"state": "open", "previous": "closed"}, clock)
    deliverer = make_deliverer(concurrency=1, per_endpoint=1)
    claimed = deliveries.claim(second.pk, deliverer.deliverer_id, 10, clock.now(), 30)
    deliverer.step(clock.now())  # /first takes the only thread and hangs
    receiver.wait_for(1, "/first")
    # The second lane is filled while no thread is free, as a refill between discoveries may be.
    deliverer._fill(_Lane(second.pk), claimed, clock.now())
    receiver.release.set()
    for _ in range(100):
        deliverer.step(clock.now())
        if len(receiver.at("/second")) == 3:
            break
        time.sleep(0.05)
    assert len(receiver.at("/second")) == 3
