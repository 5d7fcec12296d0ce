"""webhooks.fanout: one delivery per matching endpoint, written with the event."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from instances.events import emit_event
from instances.models import Instance
from instances.service import create_instance
from tests.support.webhooks import make_endpoint
from webhooks.models import WebhookDelivery

pytestmark = [pytest.mark.django_db, pytest.mark.dbengines]
URL = "https://93.184.215.14/hook"
# PostgreSQL: each NOTIFY is a query of its own (the outbox's, and the deliverers' channel).
NOTIFY = 1 if connection.vendor == "postgresql" else 0
CONNECTED = {"status": "connected", "detail": ""}


def deliveries_of(endpoint: Any) -> list[tuple[int, str]]:
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event_id", "event_type"))


def test_an_event_makes_a_pending_delivery_due_at_the_events_time(owner: Any, instance: Instance) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    event = emit_event(instance, "status", CONNECTED)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.event_id, delivery.event_type, delivery.status) == (
        event.pk,
        "instance.status",
        "pending",
    )
    assert delivery.next_attempt_at == event.created_at


def test_an_all_instances_endpoint_hears_every_instance_of_its_owner_only(
    owner: Any, stranger: Any, instance: Instance
) -> None:
    mine, _ = make_endpoint(owner, URL)
    theirs, _ = make_endpoint(stranger, URL)
    other = create_instance(owner, transport="sandbox")
    emit_event(instance, "status", CONNECTED)
    emit_event(other, "status", CONNECTED)
    assert len(deliveries_of(mine)) == 2
    assert deliveries_of(theirs) == []


def test_an_instances_endpoint_hears_only_that_instance(owner: Any, instance: Instance) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    emit_event(create_instance(owner, transport="sandbox"), "status", CONNECTED)
    assert deliveries_of(endpoint) == []


def test_an_instances_endpoint_stops_hearing_it_once_the_instance_is_given_to_someone_else(
    owner: Any, stranger: Any, instance: Instance
) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance)
    Instance.objects.filter(pk=instance.pk).update(owner=stranger)  # as the admin's owner field does
    emit_event(instance, "status", CONNECTED)
    assert deliveries_of(endpoint) == []


def test_an_endpoint_for_someone_elses_instance_hears_it_while_its_owner_may_view_every_instance(
    instance: Instance, django_user_model: Any
) -> None:
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user(username="vera", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_instance"))
    endpoint, _ = make_endpoint(viewer, URL, instance=instance)
    emit_event(instance, "status", CONNECTED)
    assert len(deliveries_of(endpoint)) == 1


def test_the_event_filter_and_the_disabled_flag_are_respected(owner: Any, instance: Instance) -> None:
    filtered, _ = make_endpoint(owner, URL, instance=instance, events_filter=["message.received"])
    disabled, _ = make_endpoint(owner, URL, instance=instance)
    disabled.enabled = False
    disabled.save()
    emit_event(instance, "status", CONNECTED)
    assert deliveries_of(filtered) == []
    assert deliveries_of(disabled) == []


def test_a_waziper_endpoint_gets_only_what_waziper_posted(owner: Any, instance: Instance) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance, format="waziper")
    emit_event(instance, "status", CONNECTED)
    emit_event(instance, "message.received", {"kind": "text", "text": "hi"})
    assert [t for _, t in deliveries_of(endpoint)] == ["message.received"]


def test_a_waziper_endpoint_gets_a_group_change_only_when_baileys_would_post_it(
    owner: Any, instance: Instance
) -> None:
    endpoint, _ = make_endpoint(owner, URL, instance=instance, format="waziper")
    group = "120363000000000001@g.us"
    emit_event(
        instance, "group.updated", {"group_id": group, "participants": {"added": ["62812@s.whatsapp.net"]}}
    )
    emit_event(instance, "group.updated", {"group_id": group, "changes": {"name": "Tim"}})
    assert [t for _, t in deliveries_of(endpoint)] == ["group.updated"]


def test_events_integrations_do_not_hear_of_cost_no_query(
    owner: Any, instance: Instance, django_assert_num_queries: Any
) -> None:
    make_endpoint(owner, URL, instance=instance)
    with django_assert_num_queries(1 + NOTIFY):  # the event's own INSERT
        emit_event(instance, "qr", {"qr": "2@abc", "expires_at": None})


def test_an_event_costs_one_query_to_find_its_endpoints(
    owner: Any, instance: Instance, django_assert_num_queries: Any
) -> None:
    for _ in range(3):
        make_endpoint(owner, URL, instance=instance)
    make_endpoint(owner, URL)
    with django_assert_num_queries(3 + 2 * NOTIFY):  # the event, the endpoints, one INSERT of four
        emit_event(instance, "status", CONNECTED)
    assert WebhookDelivery.objects.count() == 4


def test_deliveries_roll_back_with_their_event(owner: Any, instance: Instance) -> None:
    make_endpoint(owner, URL, instance=instance)
    with pytest.raises(RuntimeError), transaction.atomic():
        emit_event(instance, "status", CONNECTED)
        raise RuntimeError("the change failed")
    assert not WebhookDelivery.objects.exists()
