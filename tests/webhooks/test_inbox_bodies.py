"""The waziper bodies of what the inbox really writes to the outbox (inbox.service), so the
Baileys shapes follow the inbox's payloads rather than a copy of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from inbox.service import store_incoming
from instances.models import Instance, InstanceEvent
from webhooks import formats

pytestmark = pytest.mark.django_db
AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
CHAT = "6281234567890@s.whatsapp.net"


def incoming(instance: Instance, message_id: str, **fields: Any) -> dict[str, Any]:
    """Store one received message; return the waziper body of the event it emitted."""
    data = {"message_id": message_id, "chat": CHAT, "sender": CHAT, "sender_phone": "6281234567890"}
    data.update(push_name="Budi", at=AT.isoformat(), **fields)
    store_incoming(instance.pk, data, AT)
    event = InstanceEvent.objects.order_by("pk").last()
    body = formats.waziper_body(
        formats.Event(event.kind, event.kind, event.payload, instance.instance_id, AT)
    )
    assert body is not None
    return json.loads(body)["data"]


def raw(message_id: str, content: dict[str, Any]) -> dict[str, Any]:
    key = {"remoteJid": CHAT, "fromMe": False, "id": message_id}
    return {"key": key, "message": content, "messageTimestamp": 1767268800, "pushName": "Budi"}


def test_a_received_text_posts_whatsapps_own_message(instance: Instance) -> None:
    data = incoming(instance, "M1", kind="text", text="halo", raw=raw("M1", {"conversation": "halo"}))
    [message] = data["data"]["messages"]
    assert (data["event"], message["message"], message["key"]["id"]) == (
        "messages.upsert",
        {"conversation": "halo"},
        "M1",
    )


def test_a_location_cut_from_its_raw_copy_is_rebuilt_from_the_details(instance: Instance) -> None:
    details = {"location": {"latitude": -6.17, "longitude": 106.82, "name": "Monas", "live": False}}
    data = incoming(
        instance, "M2", kind="location", details=details, raw={"truncated": {"bytes": 1, "limit": 1}}
    )
    content = data["data"]["messages"][0]["message"]
    assert content == {
        "locationMessage": {"degreesLatitude": -6.17, "degreesLongitude": 106.82, "name": "Monas"}
    }


def test_an_image_without_a_raw_copy_carries_its_caption_and_file(instance: Instance) -> None:
    media = {"mimetype": "image/jpeg", "size": 10, "filename": "a.jpg", "sha256": "abc="}
    data = incoming(instance, "M3", kind="image", text="foto", media=media)
    image = data["data"]["messages"][0]["message"]["imageMessage"]
    assert (image["caption"], image["fileName"], image["fileLength"]) == ("foto", "a.jpg", "10")


def test_an_edit_of_a_stored_message_updates_its_key_with_the_new_text(instance: Instance) -> None:
    incoming(instance, "M4", kind="text", text="helo")
    data = incoming(instance, "E4", kind="edit", text="halo", target_id="M4")
    assert data["event"] == "messages.update"
    [update] = data["data"]
    assert update == {
        "key": {"remoteJid": CHAT, "fromMe": False, "id": "M4"},
        "update": {"message": {"editedMessage": {"message": {"conversation": "halo"}}}},
    }


def test_a_revoke_of_a_message_never_stored_names_it_by_its_id(instance: Instance) -> None:
    data = incoming(instance, "R5", kind="revoke", target_id="OURS5")
    assert data["data"] == [
        {
            "key": {"remoteJid": CHAT, "fromMe": False, "id": "OURS5"},
            "update": {"message": None, "messageStubType": 1},
        }
    ]


def test_a_reaction_is_upserted_as_whatsapps_reaction_message(instance: Instance) -> None:
    reaction = {"reactionMessage": {"key": {"remoteJid": CHAT, "fromMe": True, "id": "OURS6"}, "text": "👍"}}
    data = incoming(instance, "X6", kind="reaction", text="👍", target_id="OURS6", raw=raw("X6", reaction))
    assert data["event"] == "messages.upsert"
    assert data["data"]["messages"][0]["message"] == reaction
