"""POST /send_message and /send_bulk with the kinds beyond text and media: what each queues,
and a 400 naming the field for each kind's bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from instances.models import Instance
from instances.service import create_instance
from queueing.models import QueuedMessage
from tests.support.queue import queue_message

pytestmark = pytest.mark.django_db
CHAT = "6281234567890"


def send(client: APIClient, instance: Instance, fmt: str = "json", headers: dict | None = None, **body: Any):
    body.setdefault("chat_id", CHAT)
    return client.post(
        f"/send_message?instance_id={instance.instance_id}", body, format=fmt, headers=headers or {}
    )


def queued(response: Any) -> QueuedMessage:
    assert response.status_code == 202, response.json()
    return QueuedMessage.objects.get(message_id=response.json()["data"]["message_id"])


def sent_text(instance: Instance, minutes_ago: float = 1, **fields: Any) -> QueuedMessage:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return queue_message(
        instance,
        CHAT,
        text="hello",
        status="sent",
        wa_message_id="3EB0AAAA1111",
        sent_at=at,
        created_at=at,
        **fields,
    )


def errors(response: Any) -> set[str]:
    assert response.status_code == 400, response.json()
    return set(response.json()["errors"])


# --- each kind queued ---------------------------------------------------------------------------


def test_a_location_is_queued_with_its_coordinates(owner_client: APIClient, instance: Instance) -> None:
    message = queued(
        send(
            owner_client,
            instance,
            type="location",
            latitude=-6.1754,
            longitude=106.8272,
            location_name="Monas",
            location_address="Gambir, Jakarta",
        )
    )
    assert (message.kind, message.payload) == (
        "location",
        {"latitude": -6.1754, "longitude": 106.8272, "name": "Monas", "address": "Gambir, Jakarta"},
    )


def test_a_location_from_a_waziper_form_post(api: APIClient, owner_token: str, instance: Instance) -> None:
    response = api.post(
        f"/send_message?access_token={owner_token}&instance_id={instance.instance_id}",
        {"chat_id": CHAT, "type": "location", "latitude": "-6.2", "longitude": "106.8"},
    )
    assert queued(response).payload["latitude"] == -6.2


def test_a_contact_is_queued_with_a_vcard(owner_client: APIClient, instance: Instance) -> None:
    message = queued(
        send(owner_client, instance, type="contact", contact_name="Ann", contact_phone="+628123456789")
    )
    assert message.payload["vcard"].startswith("BEGIN:VCARD\nVERSION:3.0\nFN:Ann\n")


def test_a_poll_is_queued_with_its_options(owner_client: APIClient, instance: Instance) -> None:
    message = queued(
        send(
            owner_client,
            instance,
            type="poll",
            question="Lunch?",
            options=["rice", "noodles"],
            selectable_count=2,
        )
    )
    assert message.payload == {"question": "Lunch?", "options": ["rice", "noodles"], "selectable_count": 2}


def test_a_polls_options_may_repeat_a_form_key(api: APIClient, owner_token: str, instance: Instance) -> None:
    response = api.post(
        f"/send_message?access_token={owner_token}&instance_id={instance.instance_id}",
        f"chat_id={CHAT}&type=poll&question=Lunch%3F&options=rice&options=noodles",
        content_type="application/x-www-form-urlencoded",
    )
    assert queued(response).payload["options"] == ["rice", "noodles"]


def test_a_sticker_is_queued_by_url(owner_client: APIClient, instance: Instance) -> None:
    message = queued(send(owner_client, instance, type="sticker", media_url="https://93.184.215.14/s.webp"))
    assert (message.kind, message.media_url) == ("sticker", "https://93.184.215.14/s.webp")


def test_a_reaction_to_our_sent_message_is_queued_naming_it(
    owner_client: APIClient, instance: Instance
) -> None:
    ours = sent_text(instance)
    message = queued(
        send(owner_client, instance, type="reaction", target_message_id=str(ours.message_id), emoji="👍")
    )
    assert (message.payload["emoji"], message.payload["target"]["wa_message_id"]) == ("👍", "3EB0AAAA1111")


def test_a_reply_with_mentions_and_typing_is_queued_with_them(
    owner_client: APIClient, instance: Instance
) -> None:
    ours = sent_text(instance)
    message = queued(
        send(
            owner_client,
            instance,
            caption="Thanks @628111111111",
            quoted_message_id="3EB0AAAA1111",
            mentions=["628111111111"],
            typing_s=3,
        )
    )
    assert message.payload["quoted"]["message_id"] == str(ours.message_id)
    assert (message.mentions, message.typing_s) == (["628111111111@s.whatsapp.net"], 3.0)


def test_a_lid_chat_is_accepted(owner_client: APIClient, instance: Instance) -> None:
    assert queued(send(owner_client, instance, chat_id="123456789012345@lid", caption="hi")).chat_id == (
        "123456789012345@lid"
    )


def test_the_message_shows_its_kinds_fields(owner_client: APIClient, instance: Instance) -> None:
    message = queued(send(owner_client, instance, type="location", latitude=1, longitude=2))
    data = owner_client.get(f"/messages/{message.message_id}").json()["data"]
    assert (data["type"], data["payload"]["latitude"], data["mentions"], data["typing_s"]) == (
        "location",
        1.0,
        [],
        None,
    )


# --- bad input: a 400 naming the field ------------------------------------------------------------


def test_coordinates_out_of_range_are_a_400_naming_them(owner_client: APIClient, instance: Instance) -> None:
    assert errors(send(owner_client, instance, type="location", latitude=91, longitude=-181)) == {
        "latitude",
        "longitude",
    }
    assert not QueuedMessage.objects.exists()


def test_a_poll_with_one_option_is_a_400_naming_options(owner_client: APIClient, instance: Instance) -> None:
    response = send(owner_client, instance, type="poll", question="Lunch?", options=["rice"])
    assert errors(response) == {"options"}
    assert response.json()["errors"]["options"] == ["A poll needs 2 to 12 options."]


def test_an_edit_of_another_instances_message_is_a_400_naming_the_target(
    owner: Any, owner_client: APIClient, instance: Instance
) -> None:
    theirs = sent_text(create_instance(owner, transport="sandbox"))
    response = send(
        owner_client, instance, type="edit", target_message_id=str(theirs.message_id), caption="x"
    )
    assert errors(response) == {"target_message_id"}
    assert QueuedMessage.objects.filter(instance=instance).count() == 0


def test_an_edit_of_a_received_message_is_a_400_naming_the_target(
    owner_client: APIClient, instance: Instance
) -> None:
    response = send(owner_client, instance, type="edit", target_message_id="3A55BBBB22223333", caption="x")
    assert errors(response) == {"target_message_id"}


def test_an_edit_past_whatsapps_window_is_a_400_saying_so(
    owner_client: APIClient, instance: Instance
) -> None:
    ours = sent_text(instance, minutes_ago=16)
    response = send(owner_client, instance, type="edit", target_message_id=str(ours.message_id), caption="x")
    assert "within 15 minutes" in response.json()["errors"]["target_message_id"][0]


def test_a_reaction_to_an_unknown_message_is_a_400_naming_the_target(
    owner_client: APIClient, instance: Instance
) -> None:
    response = send(
        owner_client,
        instance,
        type="reaction",
        target_message_id="6c7b6b5e-0000-4000-8000-000000000000",
        emoji="👍",
    )
    assert errors(response) == {"target_message_id"}


def test_a_repeated_edit_replays_even_past_the_window(owner_client: APIClient, instance: Instance) -> None:
    ours = sent_text(instance, minutes_ago=14)
    body = {"type": "edit", "target_message_id": str(ours.message_id), "caption": "fixed"}
    first = send(owner_client, instance, headers={"Idempotency-Key": "edit-1"}, **body)
    QueuedMessage.objects.filter(pk=ours.pk).update(sent_at=timezone.now() - timedelta(minutes=30))
    again = send(owner_client, instance, headers={"Idempotency-Key": "edit-1"}, **body)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["data"]["message_id"] == first.json()["data"]["message_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "location", "latitude": True, "longitude": 0}, "latitude"),
        ({"type": "poll", "question": "Q", "options": ["a", "b"], "selectable_count": 3}, "selectable_count"),
        ({"type": "contact", "vcard": "hello"}, "vcard"),
        ({"type": "reaction", "target_message_id": "3EB0AAAA1111"}, "emoji"),
        ({"caption": "hi", "mentions": ["nobody"]}, "mentions"),
        ({"caption": "hi", "typing_s": 11}, "typing_s"),
        ({"caption": "hi", "question": "Q?"}, "question"),
        ({"caption": "hi", "target_message_id": 12345}, "target_message_id"),
    ],
)
def test_each_kinds_bad_field_is_named(
    owner_client: APIClient, instance: Instance, body: dict, field: str
) -> None:
    assert field in errors(send(owner_client, instance, **body))


# --- /send_bulk --------------------------------------------------------------------------------


def bulk(client: APIClient, instance: Instance, body: dict):
    return client.post(f"/send_bulk?instance_id={instance.instance_id}", body, format="json")


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "location", "latitude": -6.2, "longitude": 106.8},
        {"type": "contact", "contact_name": "Shop", "contact_phone": "628111111111"},
        {"type": "poll", "question": "Lunch?", "options": ["rice", "noodles"]},
        {"type": "sticker", "media_url": "https://93.184.215.14/s.webp"},
    ],
)
def test_a_bulk_may_send_locations_contacts_polls_and_stickers(
    owner_client: APIClient, instance: Instance, fields: dict
) -> None:
    response = bulk(owner_client, instance, {**fields, "recipients": ["6281200000001", "6281200000002"]})
    assert response.status_code == 202, response.json()
    assert set(QueuedMessage.objects.values_list("kind", flat=True)) == {fields["type"]}


def test_a_bulks_items_may_carry_their_own_kind_fields(owner_client: APIClient, instance: Instance) -> None:
    response = bulk(
        owner_client,
        instance,
        {
            "type": "location",
            "messages": [
                {"chat_id": "6281200000001", "latitude": 1, "longitude": 2},
                {"chat_id": "6281200000002", "latitude": 3, "longitude": 4, "typing_s": 2},
            ],
        },
    )
    assert response.status_code == 202, response.json()
    rows = list(QueuedMessage.objects.order_by("id").values_list("payload", "typing_s"))
    assert [(p["latitude"], t) for p, t in rows] == [(1.0, None), (3.0, 2.0)]


@pytest.mark.parametrize("kind", ["reaction", "edit", "delete"])
def test_a_bulk_of_reactions_edits_or_deletes_is_a_400_naming_type(
    owner_client: APIClient, instance: Instance, kind: str
) -> None:
    response = bulk(
        owner_client,
        instance,
        {"type": kind, "target_message_id": "3EB0AAAA1111", "emoji": "x", "recipients": [CHAT]},
    )
    assert errors(response) == {"type"}
    assert not QueuedMessage.objects.exists()


def test_a_bulk_items_reaction_is_a_400_naming_its_type(owner_client: APIClient, instance: Instance) -> None:
    response = bulk(
        owner_client,
        instance,
        {"messages": [{"chat_id": CHAT, "type": "delete", "target_message_id": "3EB0AAAA1111"}]},
    )
    assert errors(response) == {"messages.0.type"}


def test_a_bulk_of_replies_is_a_400_naming_quoted_message_id(
    owner_client: APIClient, instance: Instance
) -> None:
    response = bulk(
        owner_client, instance, {"caption": "hi", "quoted_message_id": "3EB0AAAA1111", "recipients": [CHAT]}
    )
    assert errors(response) == {"quoted_message_id"}
