"""The bodies posted to receivers, one function per format. Pure: (event, its data) → JSON text.

* `standard`: `{"type", "timestamp", "data"}` per the Standard Webhooks specification.
* `waziper`: what the Waziper server posted, `{"instance_id", "data": {"event", "data"}}`, with
  messages in Baileys' shapes (WAMessage keys, `message.conversation` …) and group and contact
  changes as Baileys' `groups.update` and `contacts.update`, so receivers written for it work
  unchanged. Events it never posted (instance status, breakers, a change of a group's
  participants alone) have no body here, and endpoints in this format are not sent them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webhooks import events

STANDARD = "standard"
WAZIPER = "waziper"
FORMATS = (STANDARD, WAZIPER)

# Baileys' WAMessageStatus: what `messages.update` carries for our sends.
BAILEYS_STATUS = {"failed": 0, "sent": 2, "delivered": 3, "read": 4}
# Baileys' WAMessageStubType.REVOKE: a message deleted for everyone.
STUB_REVOKE = 1
# A group's settings (directory/changes.py's names) as Baileys' GroupMetadata names them.
BAILEYS_GROUP_FIELDS = {
    "name": "subject",
    "description": "desc",
    "announce": "announce",
    "locked": "restrict",
    "ephemeral_s": "ephemeralDuration",
}
INVITE_PREFIX = "https://chat.whatsapp.com/"
_MEDIA = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
}


@dataclass(frozen=True)
class Event:
    """What the body of one delivery is made from."""

    type: str
    kind: str  # the outbox kind (the public type for events not in the outbox)
    payload: dict[str, Any]
    instance_id: str | None
    created_at: datetime


def _dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def standard_body(event: Event) -> str:
    data = (
        dict(event.payload, instance_id=event.instance_id)
        if event.type == events.WEBHOOK_TEST
        else events.public_data(event.kind, event.payload, event.instance_id)
    )
    return _dumps({"type": event.type, "timestamp": iso(event.created_at), "data": data})


def waziper_expressible(event_type: str, payload: dict[str, Any]) -> bool:
    """Has this event a `waziper` body? (The fan-out sends those endpoints nothing else.)"""
    if event_type in (events.MESSAGE_RECEIVED, events.MESSAGE_UPDATED, events.WEBHOOK_TEST):
        return True
    if event_type == events.MESSAGE_STATUS:
        return payload.get("status") in BAILEYS_STATUS and bool(payload.get("wa_message_id"))
    if event_type == events.GROUP_UPDATED:
        return _group_update(payload) is not None
    if event_type == events.CONTACT_UPDATED:
        return _contact_update(payload) is not None
    return False


def expressible(fmt: str, event_type: str, payload: dict[str, Any]) -> bool:
    return fmt != WAZIPER or waziper_expressible(event_type, payload)


def waziper_body(event: Event) -> str | None:
    """The Waziper server's body for `event`, or None if it has none."""
    inner: tuple[str, Any] | None
    if event.type == events.MESSAGE_RECEIVED:
        inner = ("messages.upsert", {"messages": [wa_message(event.payload)], "type": "notify"})
    elif event.type == events.MESSAGE_UPDATED:
        inner = _message_update(event.payload)
    elif event.type == events.MESSAGE_STATUS:
        inner = _status_update(event.payload)
    elif event.type == events.GROUP_UPDATED:
        update = _group_update(event.payload)
        inner = None if update is None else ("groups.update", [update])
    elif event.type == events.CONTACT_UPDATED:
        update = _contact_update(event.payload)
        inner = None if update is None else ("contacts.update", [update])
    elif event.type == events.WEBHOOK_TEST:
        inner = (events.WEBHOOK_TEST, event.payload)
    else:
        inner = None
    if inner is None:
        return None
    name, data = inner
    return _dumps({"instance_id": event.instance_id, "data": {"event": name, "data": data}})


def body(fmt: str, event: Event) -> str | None:
    return waziper_body(event) if fmt == WAZIPER else standard_body(event)


# --- Baileys shapes ---------------------------------------------------------------------------


def user_jid(chat: str) -> str:
    """A chat as WhatsApp names it: digits get the user server, a full JID stays as it is."""
    chat = (chat or "").strip()
    if not chat or "@" in chat:
        return chat
    return chat.lstrip("+") + "@s.whatsapp.net"


def _phone_jid(phone: Any) -> str | None:
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit())
    return f"{digits}@s.whatsapp.net" if digits else None


def wa_key(message: dict[str, Any]) -> dict[str, Any]:
    """Baileys' WAMessageKey. A chat WhatsApp names by `@lid` is given by the phone number when
    it is known, as receivers read the number from `remoteJid`."""
    chat = user_jid(str(message.get("chat") or ""))
    is_group = bool(message.get("is_group")) or chat.endswith("@g.us")
    if chat.endswith("@lid") and not is_group:
        chat = _phone_jid(message.get("sender_phone")) or chat
    key: dict[str, Any] = {
        "remoteJid": chat,
        "fromMe": bool(message.get("from_me")),
        "id": message.get("wa_message_id") or "",
    }
    if is_group:
        sender = str(message.get("sender") or "")
        if sender.endswith("@lid"):
            sender = _phone_jid(message.get("sender_phone")) or sender
        key["participant"] = sender
    return key


def _timestamp(value: Any) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value:
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None


def _raw_content(raw: Any) -> dict[str, Any] | None:
    """The WhatsApp `Message` inside a raw copy, if it is one: Baileys posts that as `message`,
    and both come from WhatsApp's own protobuf, so its field names are the same."""
    if not isinstance(raw, dict):
        return None
    for key in ("message", "Message"):
        inner = raw.get(key)
        if isinstance(inner, dict):
            raw = inner
            break
    if any(key == "conversation" or key.endswith("Message") for key in raw):
        return raw
    return None


def _context(message: dict[str, Any]) -> dict[str, Any] | None:
    quoted = message.get("quoted_message_id")
    return {"stanzaId": quoted} if quoted else None


def _media_fields(message: dict[str, Any], text: str) -> dict[str, Any]:
    media = message.get("media") or {}
    fields: dict[str, Any] = {}
    if text:
        fields["caption"] = text
    if media.get("mimetype"):
        fields["mimetype"] = media["mimetype"]
    if media.get("size") is not None:
        fields["fileLength"] = str(media["size"])  # a protobuf Long, as Baileys' JSON has it
    name = media.get("filename") or media.get("file_name")
    if name:
        fields["fileName"] = name
    if media.get("sha256"):
        fields["fileSha256"] = media["sha256"]
    return fields


def wa_content(message: dict[str, Any]) -> dict[str, Any]:
    """Baileys' `message` (proto.IMessage) for a stored message: the raw copy's when it has one
    (cut from a long message, it has none), else built from what was stored."""
    raw = _raw_content(message.get("raw"))
    if raw is not None:
        return raw
    kind = str(message.get("kind") or "text")
    text = str(message.get("text") or "")
    details = message.get("details") or {}
    context = _context(message)
    content: dict[str, Any]
    if kind in _MEDIA:
        fields = _media_fields(message, text)
        if context:
            fields["contextInfo"] = context
        return {_MEDIA[kind]: fields}
    if kind == "reaction":
        # The key of the message reacted to; whether it was ours is known only if it was stored.
        key = message.get("reaction_key") or {
            "remoteJid": wa_key(message)["remoteJid"],
            "id": message.get("target_message_id") or "",
        }
        return {"reactionMessage": {"key": key, "text": text}}
    if kind == "location" and isinstance(details.get("location"), dict):
        place = details["location"]
        content = {"degreesLatitude": place.get("latitude"), "degreesLongitude": place.get("longitude")}
        content.update({k: place[k] for k in ("name", "address") if place.get(k)})
        return {"locationMessage": content}
    if kind == "poll" and isinstance(details.get("poll"), dict):
        poll = details["poll"]
        options = [{"optionName": str(option)} for option in poll.get("options") or []]
        return {"pollCreationMessage": {"name": poll.get("question", ""), "options": options}}
    if kind == "contact":
        return {"contactMessage": {"displayName": text}}
    if context:
        return {"extendedTextMessage": {"text": text, "contextInfo": context}}
    return {"conversation": text}


def wa_message(message: dict[str, Any]) -> dict[str, Any]:
    """Baileys' WAMessage for a stored message (what `messages.upsert` carries)."""
    found = message.get("raw")
    raw: dict[str, Any] = found if isinstance(found, dict) else {}
    out: dict[str, Any] = {"key": wa_key(message), "message": wa_content(message)}
    timestamp = _timestamp(message.get("sent_at")) or _timestamp(raw.get("messageTimestamp"))
    if timestamp is not None:
        out["messageTimestamp"] = timestamp
    push_name = message.get("push_name") or raw.get("pushName")
    if push_name:
        out["pushName"] = push_name
    return out


def _message_update(payload: dict[str, Any]) -> tuple[str, Any]:
    """An edit or revoke as Baileys' `messages.update` of the message it changes; a reaction as
    the `messages.upsert` of the reaction message, as Baileys hands it over."""
    target = payload.get("message") if isinstance(payload.get("message"), dict) else None
    update_message = (
        payload.get("update_message") if isinstance(payload.get("update_message"), dict) else None
    )
    kind = payload.get("update")
    if kind == "reaction":
        if update_message is not None:
            return "messages.upsert", {"messages": [wa_message(update_message)], "type": "notify"}
        reaction = payload.get("reaction") or {}
        base = target or {}
        reacting = {
            **base,
            "reaction_key": wa_key(base) if target is not None else None,
            "kind": "reaction",
            "text": reaction.get("emoji") or "",
            "sender": reaction.get("sender") or "",
            "sender_phone": reaction.get("sender_phone") or "",
            "from_me": False,
            "target_message_id": base.get("wa_message_id") or payload.get("target_wa_message_id"),
            "wa_message_id": "",
            "raw": None,
        }
        return "messages.upsert", {"messages": [wa_message(reacting)], "type": "notify"}
    key = wa_key(target or update_message or {})
    if target is None:
        key["id"] = payload.get("target_wa_message_id") or ""
    if kind == "revoke":
        return "messages.update", [{"key": key, "update": {"message": None, "messageStubType": STUB_REVOKE}}]
    text = (target or update_message or {}).get("text") or ""
    if target is None and update_message is not None:
        text = update_message.get("text") or ""
    edited = {"conversation": text}
    return "messages.update", [{"key": key, "update": {"message": {"editedMessage": {"message": edited}}}}]


def _status_update(payload: dict[str, Any]) -> tuple[str, Any] | None:
    status = BAILEYS_STATUS.get(str(payload.get("status")))
    if status is None or not payload.get("wa_message_id"):
        return None
    key = {
        "remoteJid": user_jid(str(payload.get("chat_id") or "")),
        "fromMe": True,
        "id": payload["wa_message_id"],
    }
    return "messages.update", [{"key": key, "update": {"status": status}}]


def _group_update(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Baileys' `groups.update` entry (a partial GroupMetadata: `id` and what changed, `author`
    when known). A group the account joined is new to the receiver: its metadata as it is. None
    when nothing Baileys puts there changed (participants alone, a departure)."""
    group_id = payload.get("group_id")
    if not group_id:
        return None
    found = payload.get("group_info") if payload.get("account") == "joined" else None
    info: dict[str, Any] = found if isinstance(found, dict) else {}
    changes = {**{k: info[k] for k in BAILEYS_GROUP_FIELDS if k in info}, **(payload.get("changes") or {})}
    update: dict[str, Any] = {"id": group_id}
    update.update({theirs: changes[ours] for ours, theirs in BAILEYS_GROUP_FIELDS.items() if ours in changes})
    link = changes.get("invite_link")
    if isinstance(link, str) and link:
        update["inviteCode"] = link.removeprefix(INVITE_PREFIX)
    if info:
        update.update(owner=info.get("owner"), creation=info.get("created_at"), size=info.get("size"))
        update["participants"] = [_baileys_participant(p) for p in info.get("participants") or []]
    if len(update) == 1:
        return None
    if payload.get("by"):
        update["author"] = payload["by"]
    return update


def _baileys_participant(participant: dict[str, Any]) -> dict[str, Any]:
    """Baileys' GroupParticipant: `id` and `admin` (superadmin, admin or null)."""
    admin = "superadmin" if participant.get("superadmin") else "admin" if participant.get("admin") else None
    return {"id": participant.get("id"), "admin": admin}


def _contact_update(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Baileys' `contacts.update` entry: `id` (the number's JID where WhatsApp hides it behind a
    `@lid` and the number is known, as receivers key contacts by number), `notify` (a new push
    name), `imgUrl` (`changed` or `removed`, as Baileys reports a picture notification)."""
    contact_id = str(payload.get("contact_id") or "")
    if not contact_id:
        return None
    if contact_id.endswith("@lid"):
        contact_id = _phone_jid(payload.get("phone")) or contact_id
    changes = payload.get("changes") or {}
    update: dict[str, Any] = {"id": contact_id}
    if changes.get("push_name"):
        update["notify"] = changes["push_name"]
    if changes.get("picture") in ("changed", "removed"):
        update["imgUrl"] = changes["picture"]
    return update if len(update) > 1 else None
