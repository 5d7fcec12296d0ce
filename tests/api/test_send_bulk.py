"""POST /send_bulk: many rows in one transaction, placeholders and spintax per recipient."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from instances.models import Instance
from queueing.models import QueuedMessage
from queueing.validation import TEXT_LIMIT

pytestmark = pytest.mark.django_db


def bulk(client: APIClient, instance: Instance, body: dict, **headers):
    return client.post(f"/send_bulk?instance_id={instance.instance_id}", body, format="json", **headers)


def test_it_queues_one_message_per_recipient_with_placeholders_filled(
    owner_client: APIClient, instance: Instance
) -> None:
    response = bulk(
        owner_client,
        instance,
        {
            "caption": "Hi %name%, your order %order% is ready",
            "recipients": [
                {"chat_id": "6281200000001", "params": {"name": "Ann", "order": "A1"}},
                {"chat_id": "+6281200000002", "params": {"name": "Budi", "order": "B2"}},
            ],
        },
    )
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["count"] == 2 and len(data["messages"]) == 2
    rows = list(QueuedMessage.objects.order_by("id").values_list("chat_id", "text", "bulk_id"))
    assert rows[0][:2] == ("6281200000001", "Hi Ann, your order A1 is ready")
    assert rows[1][:2] == ("6281200000002", "Hi Budi, your order B2 is ready")
    assert str(rows[0][2]) == str(rows[1][2]) == data["bulk_id"]


def test_spintax_is_spun_per_recipient(owner_client: APIClient, instance: Instance) -> None:
    recipients = [f"62812000{i:05d}" for i in range(60)]
    response = bulk(owner_client, instance, {"message": "{Hi|Hello|Hey} there", "recipients": recipients})
    assert response.status_code == 202
    texts = set(QueuedMessage.objects.values_list("text", flat=True))
    assert texts == {"Hi there", "Hello there", "Hey there"}


def test_a_list_of_distinct_messages_falls_back_to_top_level_fields(
    owner_client: APIClient, instance: Instance
) -> None:
    response = bulk(
        owner_client,
        instance,
        {
            "caption": "default",
            "messages": [
                {"chat_id": "6281200000001"},
                {"chat_id": "6281200000002", "caption": "own text"},
                {
                    "chat_id": "120363025246125486@g.us",
                    "type": "document",
                    "media_url": "https://93.184.215.14/%n%.pdf",
                    "params": {"n": "inv-7"},
                },
            ],
        },
    )
    assert response.status_code == 202
    rows = list(QueuedMessage.objects.order_by("id").values_list("kind", "text", "media_url"))
    assert rows == [
        ("text", "default", ""),
        ("text", "own text", ""),
        ("document", "default", "https://93.184.215.14/inv-7.pdf"),
    ]


def test_one_bad_recipient_refuses_the_whole_bulk_naming_it(
    owner_client: APIClient, instance: Instance
) -> None:
    response = bulk(
        owner_client, instance, {"caption": "x", "recipients": ["6281200000001", "nope", "6281200000003"]}
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"recipients.1.chat_id"}
    assert not QueuedMessage.objects.exists()


def test_a_template_over_the_text_limit_is_refused_once_before_rendering(
    owner_client: APIClient, instance: Instance
) -> None:
    # Rendered per recipient, an oversized template multiplies its cost by the recipient count,
    # even when spintax would shrink each rendering under the limit.
    template = "{a|" + "b" * TEXT_LIMIT + "}"
    response = bulk(owner_client, instance, {"caption": template, "recipients": ["6281200000001"] * 3})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"caption"}
    assert not QueuedMessage.objects.exists()


def test_more_than_the_limit_is_a_400(owner_client: APIClient, instance: Instance, settings) -> None:
    settings.WAZIPER_BULK_LIMIT = 3
    response = bulk(
        owner_client, instance, {"caption": "x", "recipients": [f"628120000000{i}" for i in range(4)]}
    )
    assert response.status_code == 400 and "recipients" in response.json()["errors"]


def test_recipients_or_messages_is_required(owner_client: APIClient, instance: Instance) -> None:
    response = bulk(owner_client, instance, {"caption": "x"})
    assert response.status_code == 400 and "recipients" in response.json()["errors"]


def test_form_posts_may_list_recipients_comma_separated(
    api: APIClient, owner_token: str, instance: Instance
) -> None:
    response = api.post(
        f"/send_bulk?access_token={owner_token}&instance_id={instance.instance_id}",
        {"message": "hi", "recipients": "6281200000001, 6281200000002"},
    )
    assert response.status_code == 202
    assert QueuedMessage.objects.count() == 2


def test_a_database_failure_midway_writes_nothing(
    owner_client: APIClient, instance: Instance, monkeypatch
) -> None:
    real = QueuedMessage.objects.bulk_create

    def full_after_insert(rows, *args, **kwargs):
        real(rows[:2])
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(QueuedMessage.objects, "bulk_create", full_after_insert)
    response = bulk(
        owner_client, instance, {"caption": "x", "recipients": [f"628120000000{i}" for i in range(5)]}
    )
    assert response.status_code == 503
    assert not QueuedMessage.objects.exists()


def test_a_repeated_bulk_with_one_key_returns_the_first_bulk(
    owner_client: APIClient, instance: Instance
) -> None:
    body = {"caption": "{a|b|c}", "recipients": [f"628120000000{i}" for i in range(5)]}
    first = bulk(owner_client, instance, body, HTTP_IDEMPOTENCY_KEY="blast-1")
    again = bulk(owner_client, instance, body, HTTP_IDEMPOTENCY_KEY="blast-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["data"] == again.json()["data"]
    assert QueuedMessage.objects.count() == 5


def test_someone_elses_instance_is_a_404(api: APIClient, stranger_token: str, instance: Instance) -> None:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert bulk(api, instance, {"caption": "x", "recipients": ["6281200000001"]}).status_code == 404
