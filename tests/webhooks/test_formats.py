"""webhooks.formats: the bodies receivers get, in both formats (Baileys shapes for `waziper`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from webhooks import formats

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
IID = "ABCDEF0123456"


def message(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 7,
        "instance_id": IID,
        "direction": "in",
        "wa_message_id": "3EB0AA",
        "chat": "6281234567890@s.whatsapp.net",
        "sender": "6281234567890@s.whatsapp.net",
        "sender_phone": "6281234567890",
        "from_me": False,
        "is_group": False,
        "push_name": "Budi",
        "kind": "text",
        "text": "halo",
        "media": None,
        "quoted_message_id": None,
        "sent_at": "2026-01-01T12:00:00+00:00",
        "received_at": "2026-01-01T12:00:01+00:00",
        "raw": None,
    }
    base.update(overrides)
    return base


def event(event_type: str, payload: dict[str, Any], kind: str | None = None) -> formats.Event:
    return formats.Event(event_type, kind or event_type, payload, IID, AT)


def waziper(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    body = formats.waziper_body(event(event_type, payload))
    assert body is not None
    return json.loads(body)


def upserted(payload: dict[str, Any]) -> dict[str, Any]:
    body = waziper("message.received", payload)
    assert body["data"]["event"] == "messages.upsert"
    return body["data"]["data"]["messages"][0]


def test_the_standard_body_is_type_timestamp_and_data() -> None:
    body = json.loads(formats.standard_body(event("instance.status", {"status": "connected"}, "status")))
    assert body == {
        "type": "instance.status",
        "timestamp": "2026-01-01T12:00:00Z",
        "data": {"status": "connected", "detail": "", "instance_id": IID},
    }


def test_a_text_message_is_a_baileys_upsert_as_waziper_posted_it() -> None:
    body = waziper("message.received", message())
    assert body["instance_id"] == IID
    assert body["data"]["data"]["type"] == "notify"
    assert upserted(message()) == {
        "key": {"remoteJid": "6281234567890@s.whatsapp.net", "fromMe": False, "id": "3EB0AA"},
        "message": {"conversation": "halo"},
        "messageTimestamp": 1767268800,
        "pushName": "Budi",
    }


def test_a_raw_whatsapp_message_is_posted_as_it_came() -> None:
    raw = {"message": {"extendedTextMessage": {"text": "halo", "contextInfo": {"stanzaId": "Q1"}}}}
    assert upserted(message(raw=raw))["message"] == raw["message"]


def test_an_image_carries_its_caption_in_image_message() -> None:
    media = {"mimetype": "image/jpeg", "size": 1024, "file_name": None, "sha256": "abc="}
    content = upserted(message(kind="image", text="look", media=media))["message"]
    assert content == {
        "imageMessage": {
            "caption": "look",
            "mimetype": "image/jpeg",
            "fileLength": "1024",
            "fileSha256": "abc=",
        }
    }


def test_a_reply_is_an_extended_text_message_quoting_its_stanza() -> None:
    content = upserted(message(quoted_message_id="3EB0QQ"))["message"]
    assert content == {"extendedTextMessage": {"text": "halo", "contextInfo": {"stanzaId": "3EB0QQ"}}}


def test_a_group_message_names_its_participant() -> None:
    key = upserted(message(chat="120363000000000000@g.us", is_group=True))["key"]
    assert key["remoteJid"] == "120363000000000000@g.us"
    assert key["participant"] == "6281234567890@s.whatsapp.net"


def test_a_lid_chat_is_given_by_its_phone_number_when_known() -> None:
    key = upserted(message(chat="123456789012345@lid", sender="123456789012345@lid"))["key"]
    assert key["remoteJid"] == "6281234567890@s.whatsapp.net"


def test_delivery_and_read_receipts_are_messages_update_with_baileys_statuses() -> None:
    payload = {"message_id": "u", "chat_id": "6281234567890", "status": "read", "wa_message_id": "3EB0S"}
    body = waziper("message.status", payload)
    assert body["data"] == {
        "event": "messages.update",
        "data": [
            {
                "key": {"remoteJid": "6281234567890@s.whatsapp.net", "fromMe": True, "id": "3EB0S"},
                "update": {"status": 4},
            }
        ],
    }


def test_a_revoke_is_a_messages_update_with_the_revoke_stub() -> None:
    body = waziper("message.updated", {"update": "revoke", "message": message()})
    assert body["data"]["data"][0]["update"] == {"message": None, "messageStubType": 1}


def test_an_edit_is_a_messages_update_with_the_new_text() -> None:
    body = waziper("message.updated", {"update": "edit", "message": message(text="fixed")})
    update = body["data"]["data"][0]["update"]
    assert update == {"message": {"editedMessage": {"message": {"conversation": "fixed"}}}}


def test_a_reaction_is_upserted_as_a_reaction_message() -> None:
    payload = {
        "update": "reaction",
        "message": message(),
        "reaction": {"emoji": "👍", "sender": "628111@s.whatsapp.net"},
    }
    body = waziper("message.updated", payload)
    reaction = body["data"]["data"]["messages"][0]["message"]["reactionMessage"]
    assert reaction == {
        "key": {"remoteJid": "6281234567890@s.whatsapp.net", "fromMe": False, "id": "3EB0AA"},
        "text": "👍",
    }


def test_events_the_waziper_server_never_posted_have_no_waziper_body() -> None:
    assert formats.waziper_body(event("instance.status", {"status": "connected"}, "status")) is None
    assert formats.expressible("waziper", "breaker.opened", {}) is False
    assert formats.expressible("standard", "breaker.opened", {}) is True


def test_a_status_without_whatsapps_id_has_no_waziper_body() -> None:
    assert (
        formats.expressible("waziper", "message.status", {"status": "failed", "wa_message_id": ""}) is False
    )
    assert (
        formats.expressible("waziper", "message.status", {"status": "uncertain", "wa_message_id": "X"})
        is False
    )
