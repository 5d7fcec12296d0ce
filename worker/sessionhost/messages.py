"""A received WhatsApp message (neonize's ``Message`` event) as the fields of an ``incoming``
protocol event: what kind it is, its text or caption, media metadata and what it takes to
download the media later, the message it quotes or changes, and a copy of the message itself.

neonize 0.5.2's protobufs are taken duck-typed (``ListFields``, ``HasField``, attributes), so
this module never imports neonize; ``google.protobuf`` turns the raw copy into JSON. The field
names follow whatsmeow's protobufs (``waE2E``), which are WhatsApp's own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from google.protobuf.json_format import MessageToDict

# Envelopes around the content: whatsmeow takes most of them off before the event, not all
# (and not on every path), so each one found is taken off here. Value: the flag it leaves.
WRAPPERS = {
    "deviceSentMessage": "",
    "ephemeralMessage": "ephemeral",
    "viewOnceMessage": "view_once",
    "viewOnceMessageV2": "view_once",
    "viewOnceMessageV2Extension": "view_once",
    "documentWithCaptionMessage": "",
    "editedMessage": "",
    "botInvokeMessage": "",
    "lottieStickerMessage": "",
    "groupMentionedMessage": "",
}
# Content fields, in the order they are looked at, and the kind each one is.
CONTENT_KINDS = {
    "protocolMessage": "",  # a revoke or an edit; anything else is protocol chatter
    "reactionMessage": "reaction",
    "conversation": "text",
    "extendedTextMessage": "text",
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
    "locationMessage": "location",
    "liveLocationMessage": "location",
    "contactMessage": "contact",
    "contactsArrayMessage": "contact",
    "pollCreationMessage": "poll",
    "pollCreationMessageV2": "poll",
    "pollCreationMessageV3": "poll",
    "pollCreationMessageV5": "poll",
    "pollCreationMessageV6": "poll",
}
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
# Fields that ride along with content or are the whole of a protocol message: on their own they
# are no message anybody sent (key distribution, app state sync, …).
CHATTER = frozenset(
    {"senderKeyDistributionMessage", "fastRatchetKeySenderKeyDistributionMessage", "messageContextInfo"}
)
# Not worth a byte of the raw copy: previews and sidecars the receiver cannot use without
# downloading the media anyway.
_HEAVY = frozenset(
    {
        "JPEGThumbnail",
        "pngThumbnail",
        "waveform",
        "streamingSidecar",
        "scansSidecar",
        "firstScanSidecar",
        "firstFrameSidecar",
        "midQualityFileSHA256",
        "midQualityFileEncSHA256",
        "interactiveAnnotations",
        "annotations",
        "processedVideos",
    }
)
MAX_CONTACTS = 50
MAX_VCARD_CHARS = 8192
MAX_POLL_OPTIONS = 32
STATUS_BROADCAST = "status@broadcast"

Fields = dict[str, Any]


def jid_str(jid: Any) -> str:
    """whatsmeow's JID string: ``user[:device]@server``; "" for an empty JID."""
    if not jid.User and not jid.Server:
        return ""
    return f"{jid.User}{f':{jid.Device}' if jid.Device else ''}@{jid.Server}"


def bare_jid(jid: Any) -> str:
    """The JID without its device: the account, as WhatsApp's message keys name it."""
    return f"{jid.User}@{jid.Server}" if jid.User or jid.Server else ""


def phone_of(source: Any) -> str:
    """The sender's number: from a phone-number JID, or from the phone-number JID WhatsApp sends
    beside a hidden one (``@lid``); "" when it sent none."""
    for jid in (source.Sender, source.SenderAlt):
        if jid.Server == "s.whatsapp.net" and jid.User:
            return str(jid.User)
    return ""


def unix_seconds(ts: int) -> float:
    # neonize 0.5.2 sends receipt times in seconds but message times in milliseconds.
    return ts / 1000 if ts > 10**11 else ts


def unwrap(message: Any) -> tuple[Any, set[str]]:
    """The content inside any envelopes, and the flags the envelopes meant (view once, …)."""
    flags: set[str] = set()
    for _ in range(len(WRAPPERS)):
        for name, flag in WRAPPERS.items():
            if message.HasField(name) and getattr(message, name).HasField("message"):
                message = getattr(message, name).message
                if flag:
                    flags.add(flag)
                break
        else:
            break
    return message, flags


def content_of(message: Any) -> tuple[str, str, Any] | None:
    """(kind, field name, the field's value) of a message's content; None for protocol chatter."""
    present = {field.name: value for field, value in message.ListFields()}
    for name, kind in CONTENT_KINDS.items():
        if name not in present:
            continue
        if name == "protocolMessage":
            ptype = _enum_name(present[name], "type")
            if ptype == "REVOKE" and present[name].key.ID:
                return "revoke", name, present[name]
            if ptype == "MESSAGE_EDIT" and present[name].key.ID:
                return "edit", name, present[name]
            continue
        return kind, name, present[name]
    others = [name for name in present if name not in CHATTER and name != "protocolMessage"]
    return ("other", others[0], present[others[0]]) if others else None


def message_kind(message: Any) -> str:
    """The kind of a message as the inbox stores it (``other`` for chatter, too)."""
    found = content_of(unwrap(message)[0])
    return found[0] if found else "other"


def incoming(ev: Any, extract_text: Callable[[Any], str]) -> Fields | None:
    """The ``incoming`` fields for neonize's ``Message`` event, or None when it is no message
    (protocol chatter, status updates of contacts)."""
    info = ev.Info
    source = info.MessageSource
    chat = jid_str(source.Chat)
    if bare_jid(source.Chat) == STATUS_BROADCAST:
        return None
    message, flags = unwrap(ev.Message)
    found = content_of(message)
    if found is None:
        return None
    kind, _field, part = found
    at = unix_seconds(info.Timestamp)
    fields: Fields = {
        "message_id": info.ID,
        "chat": chat,
        "sender": jid_str(source.Sender),
        "sender_phone": phone_of(source),
        "from_me": source.IsFromMe,
        "is_group": source.IsGroup,
        "push_name": info.Pushname,
        "kind": kind,
        "text": "",
        "at": at,
    }
    details: Fields = {flag: True for flag in sorted(flags)}
    if kind in ("revoke", "edit"):
        fields["target_id"] = part.key.ID
        if kind == "edit":
            fields["text"] = text_of(part.editedMessage, extract_text)
            if part.timestampMS:
                fields["at"] = part.timestampMS / 1000
    elif kind == "reaction":
        fields["target_id"] = part.key.ID
        fields["text"] = part.text
    else:
        fields["text"] = text_of(message, extract_text)
        quoted = _quoted_id(part)
        if quoted:
            fields["quoted_message_id"] = quoted
    if kind in MEDIA_KINDS:
        fields["media"] = media_of(kind, part)
    details.update(_details(kind, part))
    if details:
        fields["details"] = details
    fields["raw"] = raw_copy(source, info, message, at)
    return fields


def text_of(message: Any, extract_text: Callable[[Any], str]) -> str:
    """The text a person reads: a text, a caption, a location's name, a contact's or a poll's."""
    inner, _ = unwrap(message)
    found = content_of(inner)
    if found is None:
        return ""
    kind, name, part = found
    if name == "conversation":
        return str(part)
    if name == "extendedTextMessage" or name == "reactionMessage":
        return str(part.text)
    if kind in ("image", "video", "document"):
        return str(part.caption)
    if name == "locationMessage":
        return str(part.name or part.address)
    if name == "liveLocationMessage":
        return str(part.caption)
    if kind == "contact":
        return str(part.displayName)
    if kind == "poll":
        return str(part.name)
    if kind == "other":
        try:
            return str(extract_text(inner) or "")
        except Exception:  # neonize's helper knows fewer kinds than WhatsApp sends
            return ""
    return ""


def media_of(kind: str, part: Any) -> Fields:
    """Media metadata, and what neonize's ``download_media_with_path`` needs to fetch it while
    WhatsApp still serves it (worker/sessionhost/queries.py)."""
    filename = str(getattr(part, "fileName", "") or "") if kind == "document" else ""
    return {
        "mimetype": part.mimetype,
        "size": int(part.fileLength),
        "filename": filename,
        "sha256": bytes(part.fileSHA256).hex(),
        "download": {
            "media_type": kind,
            "direct_path": part.directPath,
            "url": part.URL,
            "media_key": _b64(part.mediaKey),
            "file_enc_sha256": _b64(part.fileEncSHA256),
            "file_sha256": _b64(part.fileSHA256),
            "file_length": int(part.fileLength),
        },
    }


def _details(kind: str, part: Any) -> Fields:
    if kind == "location":
        location = {
            "latitude": part.degreesLatitude,
            "longitude": part.degreesLongitude,
            "live": not hasattr(part, "isLive") or bool(part.isLive),
        }
        if hasattr(part, "name"):
            location.update(name=part.name, address=part.address)
        return {"location": location}
    if kind == "contact":
        contacts = part.contacts if hasattr(part, "contacts") else [part]
        return {
            "contacts": [
                {"display_name": c.displayName, "vcard": c.vcard[:MAX_VCARD_CHARS]}
                for c in list(contacts)[:MAX_CONTACTS]
            ]
        }
    if kind == "poll":
        options = [option.optionName for option in list(part.options)[:MAX_POLL_OPTIONS]]
        return {
            "poll": {
                "question": part.name,
                "options": options,
                "selectable_count": part.selectableOptionsCount,
            }
        }
    return {}


def _quoted_id(part: Any) -> str:
    """The id of the message a reply quotes (its content's contextInfo), if any."""
    if isinstance(part, str) or not any(f.name == "contextInfo" for f in part.DESCRIPTOR.fields):
        return ""
    return str(part.contextInfo.stanzaID) if part.HasField("contextInfo") else ""


def raw_copy(source: Any, info: Any, message: Any, at: float) -> Fields:
    """The message as Baileys-era receivers know it: ``key``, ``message`` (protobuf field names),
    ``messageTimestamp`` and ``pushName``; previews and sidecars left out."""
    key: Fields = {"remoteJid": jid_str(source.Chat), "fromMe": source.IsFromMe, "id": info.ID}
    if source.IsGroup:
        key["participant"] = bare_jid(source.Sender)
    return {
        "key": key,
        "message": _light(MessageToDict(message)),
        "messageTimestamp": int(at),
        "pushName": info.Pushname,
    }


def _light(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _light(v) for k, v in value.items() if k not in _HEAVY}
    if isinstance(value, list):
        return [_light(v) for v in value]
    return value


def fit(fields: Fields, budget: int) -> Fields:
    """Fields that encode (ASCII-escaped JSON) within ``budget`` bytes, so a protocol line never
    outgrows its limit: the raw copy goes first, then the details, then the end of the text."""

    def size(value: Any) -> int:
        return len(json.dumps(value, ensure_ascii=True, separators=(",", ":")))

    total = size(fields)
    if total <= budget:
        return fields
    raw = fields.get("raw") or {}
    kept = {k: raw[k] for k in ("key", "messageTimestamp", "pushName") if k in raw}
    fields = {**fields, "raw": {**kept, "truncated": {"bytes": size(raw), "limit": budget}}}
    if size(fields) <= budget:
        return fields
    fields["details"] = {"truncated": True}
    over = size(fields) - budget
    if over > 0:
        text = str(fields.get("text", ""))
        # An escaped character takes at most 12 bytes (a surrogate pair): cut enough of them.
        fields["text"] = text[: max(0, len(text) - over // 6 - 1)]
        while size(fields) > budget and fields["text"]:
            fields["text"] = fields["text"][: len(fields["text"]) // 2]
    return fields


def _b64(value: bytes) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def _enum_name(msg: Any, name: str) -> str:
    field = msg.DESCRIPTOR.fields_by_name[name]
    value = field.enum_type.values_by_number.get(getattr(msg, name))
    return value.name if value is not None else ""
