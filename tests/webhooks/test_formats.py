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


# -- group and contact changes (directory/changes.py's payloads) ----------------------------------

GROUP = "120363000000000001@g.us"
BUDI = "6281234567890@s.whatsapp.net"


def group_change(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "group_id": GROUP,
        "by": BUDI,
        "at": "2026-01-01T12:00:00+00:00",
        "changes": {},
        "participants": {},
        "account": None,
        "group_info": None,
    }
    payload.update(overrides)
    return payload


def test_a_group_change_is_baileys_groups_update_in_its_names() -> None:
    changes = {"name": "Tim Launch", "description": "Jadwal", "announce": True, "locked": False}
    body = waziper("group.updated", group_change(changes=changes))
    assert body == {
        "instance_id": IID,
        "data": {
            "event": "groups.update",
            "data": [
                {
                    "id": GROUP,
                    "subject": "Tim Launch",
                    "desc": "Jadwal",
                    "announce": True,
                    "restrict": False,
                    "author": BUDI,
                }
            ],
        },
    }


def test_a_new_invite_link_is_baileys_invite_code_and_disappearing_messages_its_duration() -> None:
    changes = {"invite_link": "https://chat.whatsapp.com/AbCdEf", "ephemeral_s": 86400}
    [update] = waziper("group.updated", group_change(changes=changes, by=None))["data"]["data"]
    assert update == {"id": GROUP, "inviteCode": "AbCdEf", "ephemeralDuration": 86400}


def test_a_group_the_account_joined_is_posted_with_its_metadata() -> None:
    info = {
        "id": GROUP,
        "name": "Tim",
        "description": "",
        "size": 2,
        "owner": BUDI,
        "created_at": 1767000000,
        "announce": False,
        "locked": True,
        "participants": [
            {"id": BUDI, "phone": "6281234567890", "admin": True, "superadmin": True},
            {"id": "628111@s.whatsapp.net", "phone": "628111", "admin": False, "superadmin": False},
        ],
    }
    payload = group_change(account="joined", group_info=info, by=None)
    [update] = waziper("group.updated", payload)["data"]["data"]
    assert update == {
        "id": GROUP,
        "subject": "Tim",
        "desc": "",
        "announce": False,
        "restrict": True,
        "owner": BUDI,
        "creation": 1767000000,
        "size": 2,
        "participants": [{"id": BUDI, "admin": "superadmin"}, {"id": "628111@s.whatsapp.net", "admin": None}],
    }


def test_participants_alone_have_no_waziper_body_but_a_standard_one() -> None:
    payload = group_change(participants={"added": [BUDI]})
    assert formats.expressible("waziper", "group.updated", payload) is False
    assert formats.waziper_body(event("group.updated", payload)) is None
    standard = json.loads(formats.standard_body(event("group.updated", payload)))
    assert standard["data"]["participants"] == {"added": [BUDI]}


def test_a_new_push_name_is_baileys_contacts_update_notify() -> None:
    payload = {"contact_id": BUDI, "phone": "6281234567890", "changes": {"push_name": "Budi"}}
    body = waziper("contact.updated", payload)
    assert body["data"] == {"event": "contacts.update", "data": [{"id": BUDI, "notify": "Budi"}]}


def test_a_hidden_contacts_picture_is_posted_by_its_number_when_known() -> None:
    payload = {
        "contact_id": "190000111222333@lid",
        "phone": "6281234567890",
        "changes": {"picture": "removed"},
    }
    assert waziper("contact.updated", payload)["data"]["data"] == [{"id": BUDI, "imgUrl": "removed"}]
