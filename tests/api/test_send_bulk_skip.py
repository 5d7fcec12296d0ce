"""POST /send_bulk with skip_not_on_whatsapp: numbers are checked through the live session (or
a recent answer in the database) and those without WhatsApp are skipped, each reported."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.serializers.queue import SendBulkSerializer
from directory import cache
from instances.models import Instance, InstanceCommand
from instances.service import request_stopped
from queueing.models import QueuedMessage
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db

ON, OFF, GROUP = "628200000002", "628200000009", "120363000000000001@g.us"


@pytest.fixture
def phone(owner: Any, worker: SteppedWorker, fake_wait: FakeWait) -> Instance:
    instance = connected_sandbox(owner, worker, on_whatsapp=[ON])
    worker.run_while_waiting(fake_wait)
    return instance


def bulk(client: APIClient, instance: Instance, recipients: list[str], **extra: Any) -> Any:
    body = {"message": "Hi", "recipients": recipients, "skip_not_on_whatsapp": True, **extra}
    headers = extra.pop("headers", {})
    body.pop("headers", None)
    return client.post(f"/send_bulk?instance_id={instance.instance_id}", body, format="json", **headers)


def checks() -> list[list[str]]:
    return [c.payload["args"]["phones"] for c in InstanceCommand.objects.filter(kind="query").order_by("pk")]


def test_recipients_without_whatsapp_are_skipped_and_reported(
    owner_client: APIClient, phone: Instance
) -> None:
    response = bulk(owner_client, phone, [ON, OFF, GROUP, f"+{OFF}"])
    assert response.status_code == 202
    data = response.json()["data"]
    assert [m["chat_id"] for m in data["messages"]] == [ON, GROUP]
    assert data["skipped"] == [
        {"index": 1, "recipient": OFF, "reason": "not_on_whatsapp"},
        {"index": 3, "recipient": OFF, "reason": "not_on_whatsapp"},
    ]
    assert data["count"] == 2
    assert list(QueuedMessage.objects.values_list("chat_id", flat=True)) == [ON, GROUP]


def test_only_phone_numbers_are_checked_each_once(owner_client: APIClient, phone: Instance) -> None:
    bulk(owner_client, phone, [ON, OFF, GROUP, ON])
    assert checks() == [[ON, OFF]]


def test_a_hundred_and_twenty_numbers_are_three_questions(owner_client: APIClient, phone: Instance) -> None:
    recipients = [f"6282100{i:05d}" for i in range(120)]
    response = bulk(owner_client, phone, recipients)
    assert [len(batch) for batch in checks()] == [50, 50, 20]
    assert response.json()["data"]["count"] == 0


def test_when_no_recipient_has_whatsapp_nothing_is_queued(owner_client: APIClient, phone: Instance) -> None:
    response = bulk(owner_client, phone, [OFF])
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "No messages queued: no recipient has WhatsApp"
    assert body["data"] == {
        "bulk_id": None,
        "count": 0,
        "skipped": [{"index": 0, "recipient": OFF, "reason": "not_on_whatsapp"}],
        "messages": [],
    }
    assert not QueuedMessage.objects.exists()


def test_without_a_live_session_nothing_is_queued_and_it_is_503(
    owner_client: APIClient, instance: Instance
) -> None:
    response = bulk(owner_client, instance, [ON, OFF])
    assert response.status_code == 503
    assert response.json()["instance_status"] == "stopped"
    assert not QueuedMessage.objects.exists()


def test_numbers_the_database_knows_need_no_session(owner_client: APIClient, instance: Instance) -> None:
    now = timezone.now()
    cache.store_numbers(
        instance, [{"phone": ON, "on_whatsapp": True, "jid": None}, {"phone": OFF, "on_whatsapp": False}], now
    )
    response = bulk(owner_client, instance, [ON, OFF])
    assert response.status_code == 202
    assert [m["chat_id"] for m in response.json()["data"]["messages"]] == [ON]


def test_no_answer_in_time_is_504_and_nothing_is_queued(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait, settings: Any
) -> None:
    settings.WAZIPER_SESSION_QUERY_TIMEOUT = 1
    instance = connected_sandbox(owner, worker, query="hang")
    worker.run_while_waiting(fake_wait)
    assert bulk(owner_client, instance, [ON]).status_code == 504
    assert not QueuedMessage.objects.exists()


def test_a_replay_answers_from_the_queue_without_checking_again(
    owner_client: APIClient, phone: Instance
) -> None:
    first = bulk(owner_client, phone, [OFF, ON, GROUP], headers={"HTTP_IDEMPOTENCY_KEY": "k1"})
    request_stopped(phone)  # a replay must not need the session
    Instance.objects.filter(pk=phone.pk).update(status="stopped")
    again = bulk(owner_client, phone, [OFF, ON, GROUP], headers={"HTTP_IDEMPOTENCY_KEY": "k1"})
    assert again.status_code == 200
    assert again.json()["data"] == first.json()["data"]
    assert len(checks()) == 1


def test_the_option_is_part_of_what_a_key_identifies(owner_client: APIClient, phone: Instance) -> None:
    bulk(owner_client, phone, [ON], headers={"HTTP_IDEMPOTENCY_KEY": "k2"})
    again = bulk(
        owner_client, phone, [ON], skip_not_on_whatsapp=False, headers={"HTTP_IDEMPOTENCY_KEY": "k2"}
    )
    assert again.status_code == 409


def test_without_the_option_nothing_is_checked_and_nothing_skipped(
    owner_client: APIClient, phone: Instance
) -> None:
    response = bulk(owner_client, phone, [ON, OFF], skip_not_on_whatsapp=False)
    assert response.status_code == 202
    assert (response.json()["data"]["count"], response.json()["data"]["skipped"]) == (2, [])
    assert checks() == []


def test_a_request_without_the_option_keeps_the_fingerprint_it_had_before_it() -> None:
    body = {"message": "Hi", "recipients": [ON]}
    plain = SendBulkSerializer(data=body)
    explicit = SendBulkSerializer(data={**body, "skip_not_on_whatsapp": False})
    assert plain.is_valid() and explicit.is_valid()
    assert plain.validated_data["request_hash"] == explicit.validated_data["request_hash"]
    assert (
        plain.validated_data["request_hash"]
        == "54707587864b10d7ddabf59e76f7f1792a79c9549ec7d27da2739f9bcef650d4"
    )  # before the option existed


def test_a_bad_option_value_is_400_naming_it(owner_client: APIClient, phone: Instance) -> None:
    response = bulk(owner_client, phone, [ON], skip_not_on_whatsapp="perhaps")
    assert response.status_code == 400
    assert "skip_not_on_whatsapp" in response.json()["errors"]
