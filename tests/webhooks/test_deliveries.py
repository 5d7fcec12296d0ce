"""webhooks.deliveries against a real database: claims are leases, races have one winner, a
lapsed lease makes a delivery due again, and outcomes move the endpoint's breaker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from breaker.policy import Verdict
from instances.events import emit_event
from instances.models import Instance
from tests.support.queue import race
from tests.support.webhooks import make_endpoint
from webhooks import deliveries
from webhooks.deliveries import Attempt
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.django_db, pytest.mark.dbengines]
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
URL = "https://93.184.215.14/hook"
LEASE = 30.0
Status = WebhookDelivery.Status


def half() -> float:
    return 0.5


def events(instance: Instance, n: int, at: datetime = T0) -> None:
    for i in range(n):
        emit_event(instance, "status", {"status": "connected", "detail": f"{i}"}, now=at)


def endpoint_with(owner: Any, instance: Instance, n: int) -> WebhookEndpoint:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    events(instance, n)
    return endpoint


def test_a_claim_leases_the_longest_due_first(owner: Any, instance: Instance) -> None:
    endpoint = endpoint_with(owner, instance, 3)
    first = WebhookDelivery.objects.order_by("pk").first()
    WebhookDelivery.objects.filter(pk=first.pk).update(next_attempt_at=T0 + timedelta(seconds=1))
    pks = deliveries.claim(endpoint.pk, "d1", 2, T0 + timedelta(seconds=1), LEASE)
    rest = list(WebhookDelivery.objects.exclude(pk=first.pk).order_by("pk").values_list("pk", flat=True))
    assert pks == rest
    row = WebhookDelivery.objects.get(pk=pks[0])
    assert (row.status, row.lease_owner, row.attempts) == (Status.DELIVERING, "d1", 1)
    assert row.next_attempt_at == row.lease_expires_at == T0 + timedelta(seconds=1 + LEASE)


def test_leased_deliveries_are_not_due_until_the_lease_lapses(owner: Any, instance: Instance) -> None:
    endpoint = endpoint_with(owner, instance, 1)
    [pk] = deliveries.claim(endpoint.pk, "dead", 5, T0, LEASE)
    assert deliveries.claim(endpoint.pk, "d2", 5, T0 + timedelta(seconds=LEASE - 1), LEASE) == []
    assert deliveries.claim(endpoint.pk, "d2", 5, T0 + timedelta(seconds=LEASE), LEASE) == [pk]
    assert WebhookDelivery.objects.get(pk=pk).attempts == 2


def test_a_renewed_lease_keeps_a_delivery_held(owner: Any, instance: Instance) -> None:
    endpoint = endpoint_with(owner, instance, 1)
    pks = deliveries.claim(endpoint.pk, "d1", 5, T0, LEASE)
    assert deliveries.renew("d1", pks, T0 + timedelta(seconds=20), LEASE) == 1
    assert deliveries.claim(endpoint.pk, "d2", 5, T0 + timedelta(seconds=LEASE + 1), LEASE) == []


@pytest.mark.django_db(transaction=True)
def test_two_deliverers_racing_claim_each_delivery_exactly_once(owner: Any, instance: Instance) -> None:
    endpoint = endpoint_with(owner, instance, 40)

    def work(owner_id: str) -> list[int]:
        mine: list[int] = []
        while got := deliveries.claim(endpoint.pk, owner_id, 3, T0, LEASE):
            mine += got
        return mine

    claimed = race(work, [("d1",), ("d2",)])
    assert sorted(claimed[0] + claimed[1]) == sorted(WebhookDelivery.objects.values_list("pk", flat=True))


def test_only_endpoints_with_something_due_are_offered(owner: Any, instance: Instance) -> None:
    due = endpoint_with(owner, instance, 0)
    make_endpoint(owner, URL, instance=instance)
    events(instance, 1)
    WebhookDelivery.objects.exclude(endpoint=due).update(next_attempt_at=T0 + timedelta(hours=1))
    assert [e.pk for e in deliveries.due_endpoints(T0)] == [due.pk]


def test_a_success_is_recorded_and_clears_the_lease(owner: Any, instance: Instance) -> None:
    endpoint = endpoint_with(owner, instance, 1)
    [pk] = deliveries.claim(endpoint.pk, "d1", 1, T0, LEASE)
    deliveries.record([Attempt(pk, endpoint.pk, 1, 204, excerpt="")], "d1", T0, half)
    row = WebhookDelivery.objects.get(pk=pk)
    assert (row.status, row.last_status_code, row.delivered_at, row.lease_owner) == (
        Status.DELIVERED,
        204,
        T0,
        "",
    )
    assert row.next_attempt_at is None


def test_an_outcome_for_a_lease_lost_meanwhile_changes_nothing(owner: Any, instance: Instance) -> None:
    endpoint = endpoint_with(owner, instance, 1)
    [pk] = deliveries.claim(endpoint.pk, "slow", 1, T0, LEASE)
    later = T0 + timedelta(seconds=LEASE)
    deliveries.claim(endpoint.pk, "d2", 1, later, LEASE)
    deliveries.record([Attempt(pk, endpoint.pk, 1, 500)], "slow", later, half)
    assert WebhookDelivery.objects.get(pk=pk).lease_owner == "d2"


def test_a_pruned_event_makes_its_delivery_dead_with_the_reason(owner: Any, instance: Instance) -> None:
    from instances.models import InstanceEvent

    endpoint = endpoint_with(owner, instance, 1)
    InstanceEvent.objects.all().delete()
    pks = deliveries.claim(endpoint.pk, "d1", 1, T0, LEASE)
    [job] = deliveries.load_jobs(pks, T0)
    assert job.body is None
    deliveries.record(
        [Attempt(job.pk, endpoint.pk, 1, None, deliveries.EVENT_GONE, unsendable=True)], "d1", T0, half
    )
    row = WebhookDelivery.objects.get()
    assert row.status == Status.DEAD
    assert "no longer kept" in row.last_error


def test_failures_in_a_row_open_the_breaker_and_a_success_closes_it(
    owner: Any, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_WEBHOOK_BREAKER_THRESHOLD = 2
    settings.WAZIPER_WEBHOOK_BREAKER_COOLDOWN = 60
    endpoint = endpoint_with(owner, instance, 3)
    pks = deliveries.claim(endpoint.pk, "d1", 2, T0, LEASE)
    deliveries.record([Attempt(pk, endpoint.pk, 1, 503) for pk in pks], "d1", T0, half)
    endpoint.refresh_from_db()
    assert (endpoint.breaker_state, endpoint.open_until) == ("open", T0 + timedelta(seconds=60))
    [due] = deliveries.due_endpoints(T0 + timedelta(seconds=60))
    assert deliveries.may_deliver(due, T0 + timedelta(seconds=60)) is Verdict.PROBE
    probe = deliveries.claim_probe(due, "d1", T0 + timedelta(seconds=60), LEASE)
    assert len(probe) == 1
    assert WebhookEndpoint.objects.get().breaker_state == "half_open"
    deliveries.record([Attempt(probe[0], endpoint.pk, 1, 200)], "d1", T0 + timedelta(seconds=61), half)
    endpoint.refresh_from_db()
    assert (endpoint.breaker_state, endpoint.consecutive_failures) == ("closed", 0)
    # What waited for the receiver (the two retries) is due at once.
    assert deliveries.claim(endpoint.pk, "d1", 5, T0 + timedelta(seconds=61), LEASE) == pks


def test_only_one_deliverer_wins_the_probe(owner: Any, instance: Instance, settings: Any) -> None:
    endpoint = endpoint_with(owner, instance, 2)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(breaker_state="open", open_until=T0)
    [due] = deliveries.due_endpoints(T0)
    assert len(deliveries.claim_probe(due, "d1", T0, LEASE)) == 1
    assert deliveries.claim_probe(due, "d2", T0, LEASE) == []


def test_unposted_claims_go_back_uncounted_and_a_successor_takes_back_the_rest(
    owner: Any, instance: Instance
) -> None:
    endpoint = endpoint_with(owner, instance, 3)
    a, b, c = deliveries.claim(endpoint.pk, "d1", 3, T0, LEASE)
    assert deliveries.release_unstarted("d1", [a]) == 1
    assert (WebhookDelivery.objects.get(pk=a).status, WebhookDelivery.objects.get(pk=a).attempts) == (
        "pending",
        0,
    )
    assert deliveries.release_all_of("d1") == 2
    assert sorted(deliveries.claim(endpoint.pk, "d1", 5, T0, LEASE)) == sorted([a, b, c])


def test_after_the_breaker_closes_the_backlog_goes_out_in_the_order_of_its_events(
    owner: Any, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_WEBHOOK_BREAKER_THRESHOLD = 2
    endpoint = endpoint_with(owner, instance, 3)
    first_two = deliveries.claim(endpoint.pk, "d1", 2, T0, LEASE)
    failed = [Attempt(pk, endpoint.pk, 1, 503, retry_after_s=3600) for pk in first_two]
    deliveries.record(failed, "d1", T0, half)  # retries an hour away; the breaker opens
    events(instance, 1, at=T0 + timedelta(seconds=30))  # a later event, due before those retries
    later = T0 + timedelta(seconds=60)
    [due] = deliveries.due_endpoints(later)
    [probe] = deliveries.claim_probe(due, "d1", later, LEASE)
    deliveries.record([Attempt(probe, endpoint.pk, 1, 200)], "d1", later, half)
    fourth = WebhookDelivery.objects.order_by("pk").last().pk
    assert deliveries.claim(endpoint.pk, "d1", 5, later, LEASE) == [*first_two, fourth]


def test_finished_deliveries_are_pruned_with_the_outbox_but_waiting_ones_kept(
    owner: Any, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_EVENT_RETENTION_DAYS = 7
    endpoint_with(owner, instance, 3)
    old = T0 - timedelta(days=8)
    delivered, dead, waiting = WebhookDelivery.objects.order_by("pk")
    WebhookDelivery.objects.filter(pk=delivered.pk).update(status="delivered", created_at=old)
    WebhookDelivery.objects.filter(pk=dead.pk).update(status="dead", created_at=old)
    WebhookDelivery.objects.filter(pk=waiting.pk).update(status="failed", created_at=old)
    assert deliveries.prune(T0) == 2
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [waiting.pk]
