"""The sandbox's simulated contacts: messages they send to a sandbox instance, of every kind a
real phone can send, and the changes they make to groups and to their own profiles, so
integrators can test what they do with received messages and changes (and their webhooks)
without a phone.

`send_to_instance` (the API's POST /sandbox/<id>/incoming and `manage.py sandbox_message`)
checks what the contact sends and queues it as a `SandboxIncoming` row; `notify_instance`
(POST /sandbox/<id>/group_update and /contact_update, `manage.py sandbox_group_update` and
`sandbox_contact_update`) queues a group's or a contact's change the same way, as WhatsApp
queues its notifications beside messages. The worker's sandbox session picks pending rows up
once per tick while the instance is connected and reports each as the event neonize would
(`incoming`, `group_changed`, `contact_changed`: worker/transports/sandbox.py), so it takes
the same path through the worker, the inbox and the directory as a real one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from instances.models import Instance, SandboxIncoming, SandboxPhone
from kernel.text import refuse_unstorable

KINDS = (
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contact",
    "poll",
    "reaction",
    "edit",
    "revoke",
)
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
UPDATE_KINDS = ("reaction", "edit", "revoke")
# Not messages: WhatsApp's notifications of a group's or a contact's change (SandboxIncoming rows
# whose `message.kind` is one of these).
GROUP_UPDATE, CONTACT_UPDATE = "group_update", "contact_update"
NOTIFICATION_KINDS = (GROUP_UPDATE, CONTACT_UPDATE)
PARTICIPANT_CHANGES = {"add": "added", "remove": "removed", "promote": "promoted", "demote": "demoted"}
PICTURE_CHANGES = ("changed", "removed")
GROUP_NAME_LIMIT = 100  # WhatsApp's own limits of a group's name and description
DESCRIPTION_LIMIT = 2048
PARTICIPANTS_LIMIT = 256
DEFAULT_MIMETYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/octet-stream",
    "sticker": "image/webp",
}
# The simulated phone's media travel inside a JSON body (at most 2 MiB): 1 MiB of bytes.
MEDIA_MAX_BYTES = 2**20
PLACEHOLDER_BYTES = 1024  # media without bytes: this much filler, so a download has something
TEXT_LIMIT = 65_536
CAPTION_LIMIT = 1_024
NAME_LIMIT = 128
VCARD_LIMIT = 8_192
POLL_OPTIONS = (2, 12)
PENDING_PER_TICK = 100  # one tick's delivery; the rest come in the next ticks, in order

_PHONE = re.compile(r"^\+?([0-9]{8,15})$")
_GROUP = re.compile(r"^[0-9]{5,25}(?:-[0-9]{5,15})?@g\.us$")
_MESSAGE_ID = re.compile(r"^[0-9A-Za-z_.:-]{1,64}$")
NOT_SANDBOX = "Only sandbox instances have a simulated phone."
NOT_LINKED = (
    "The sandbox instance has no linked account yet: link its simulated phone first "
    "(POST /sandbox/<id>/scan while it shows a QR code)."
)


class NotLinked(Exception):
    """Nobody can receive the message: the sandbox instance never linked an account."""


class _Reader:
    """Reads checked fields of a request, collecting what is wrong with each by name."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, str] = {}

    def __call__(self, name: str, check: Any, *, required: bool = False, default: Any = None) -> Any:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.errors[name] = "This field is required."
            return default
        try:
            return check(value)
        except ValidationError as exc:
            self.errors[name] = " ".join(exc.messages)
            return default


def clean_incoming(data: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """What a contact sends, checked and normalised: (the message, its media bytes or b"").
    Raises ValidationError naming each bad field. Fields a kind does not use are ignored."""
    field = _Reader(data)
    errors = field.errors
    kind = field("kind", _choice(KINDS), default="text")
    message: dict[str, Any] = {
        "from": field("from", _phone, required=True),
        "push_name": field("push_name", _text(NAME_LIMIT), default=""),
        "kind": kind,
        "group": field("group", _group, default=""),
        "lid": field("lid", _bool, default=False),
    }
    media = b""
    if "kind" in errors:
        kind = ""  # what else to ask for depends on the kind: say only what is wrong with it
    elif kind in ("text", "edit"):
        message["text"] = field("text", _text(TEXT_LIMIT), required=True)
    elif kind in MEDIA_KINDS:
        caption = field("caption", _text(CAPTION_LIMIT)) or field("text", _text(CAPTION_LIMIT)) or ""
        message["text"] = caption if kind in ("image", "video", "document") else ""
        media = field("media", _media, default=b"")
        size = field("size", _int(0, MEDIA_MAX_BYTES), default=PLACEHOLDER_BYTES)
        if not media:
            media = (b"waziper sandbox media\n" * (size // 22 + 1))[:size]
        message["mimetype"] = field("mimetype", _text(255), default=DEFAULT_MIMETYPES[kind])
        message["filename"] = field("filename", _text(255), default="") if kind == "document" else ""
    elif kind == "location":
        message["latitude"] = field("latitude", _number(-90, 90), required=True)
        message["longitude"] = field("longitude", _number(-180, 180), required=True)
        message["name"] = field("name", _text(NAME_LIMIT), default="")
        message["address"] = field("address", _text(255), default="")
    elif kind == "contact":
        name = field("contact_name", _text(NAME_LIMIT), default="")
        phone = field("contact_phone", _phone, default="")
        vcard = field("vcard", _text(VCARD_LIMIT), default="")
        if not vcard and not name:
            errors.setdefault("vcard", "Give a vcard, or a contact_name (and a contact_phone).")
        if not vcard:
            tel = f"TEL;type=CELL;waid={phone}:+{phone}\n" if phone else ""
            vcard = f"BEGIN:VCARD\nVERSION:3.0\nFN:{name}\n{tel}END:VCARD"
        message["contacts"] = [{"display_name": name or _vcard_name(vcard), "vcard": vcard}]
    elif kind == "poll":
        message["question"] = field("question", _text(255), required=True)
        options = field("options", _options, required=True, default=[])
        message["options"] = options
        most = max(1, len(options))
        message["selectable_count"] = field("selectable_count", _int(1, most), default=1)
    elif kind == "reaction":
        if "emoji" not in data:
            errors["emoji"] = "This field is required (an empty emoji takes a reaction back)."
        message["text"] = field("emoji", _text(16), default="")
    if kind in UPDATE_KINDS:
        message["target_message_id"] = field("target_message_id", _message_id, required=True)
    else:
        message["quoted_message_id"] = field("quoted_message_id", _message_id, default="")
    if errors:
        raise ValidationError(errors)
    if kind in MEDIA_KINDS:
        message["size"] = len(media)
        message["sha256"] = hashlib.sha256(media).hexdigest()
    return message, media


def send_to_instance(
    instance: Instance, data: Mapping[str, Any], *, now: datetime | None = None
) -> SandboxIncoming:
    """A simulated contact sends `data` to the sandbox instance: delivered by the worker at its
    next tick while the instance is connected, or once it connects. Raises ValidationError (bad
    fields, not a sandbox instance) or NotLinked."""
    if not instance.is_sandbox:
        raise ValidationError({"instance_id": NOT_SANDBOX})
    message, media = clean_incoming(data)
    if not is_linked(instance):
        raise NotLinked(NOT_LINKED)
    return SandboxIncoming.objects.create(
        instance=instance,
        wa_message_id="3EB0" + secrets.token_hex(8).upper(),
        message=message,
        media=media,
        created_at=now or timezone.now(),
    )


def clean_group_update(data: Mapping[str, Any]) -> dict[str, Any]:
    """A change a contact makes to a group the account is in, checked: `group`, `by` (the
    contact's number), `name`, `description` ("" removes it), `announce` (only admins send),
    `locked` (only admins edit the group's info), and participants to `add`, `remove`,
    `promote` and `demote` (numbers). Raises ValidationError naming each bad field."""
    field = _Reader(data)
    described = field("description", _text(DESCRIPTION_LIMIT))
    changes: dict[str, Any] = {
        "name": field("name", _text(GROUP_NAME_LIMIT)),
        "description": "" if data.get("description") == "" else described,
        "announce": field("announce", _bool),
        "locked": field("locked", _bool),
    }
    participants = {past: field(verb, _phones, default=[]) for verb, past in PARTICIPANT_CHANGES.items()}
    update = {
        "kind": GROUP_UPDATE,
        "group": field("group", _group, required=True),
        "by": field("by", _phone, default=""),
        "changes": {name: value for name, value in changes.items() if value is not None},
        "participants": {past: phones for past, phones in participants.items() if phones},
    }
    if not field.errors and not update["changes"] and not update["participants"]:
        field.errors["non_field_errors"] = (
            "Nothing changes: give a name, description, announce, locked, add, remove, promote or demote."
        )
    if field.errors:
        raise ValidationError(field.errors)
    return update


def clean_contact_update(data: Mapping[str, Any]) -> dict[str, Any]:
    """A contact changes its profile picture: `from` (its number), `lid` (WhatsApp hides the
    number), `picture` (changed, the default, or removed). A new push name comes with the
    contact's next message (`push_name`), as WhatsApp tells it. Raises ValidationError."""
    field = _Reader(data)
    update = {
        "kind": CONTACT_UPDATE,
        "from": field("from", _phone, required=True),
        "lid": field("lid", _bool, default=False),
        "picture": field("picture", _choice(PICTURE_CHANGES), default="changed"),
    }
    if field.errors:
        raise ValidationError(field.errors)
    return update


def notify_instance(
    instance: Instance, kind: str, data: Mapping[str, Any], *, now: datetime | None = None
) -> SandboxIncoming:
    """WhatsApp tells the sandbox instance of a change (`kind`: group_update or contact_update):
    reported by the worker at its next tick while the instance is connected, or once it
    connects, in order with the contacts' messages. Raises ValidationError or NotLinked."""
    if not instance.is_sandbox:
        raise ValidationError({"instance_id": NOT_SANDBOX})
    update = {GROUP_UPDATE: clean_group_update, CONTACT_UPDATE: clean_contact_update}[kind](data)
    if not is_linked(instance):
        raise NotLinked(NOT_LINKED)
    return SandboxIncoming.objects.create(
        instance=instance,
        wa_message_id=secrets.token_hex(10).upper(),  # a notification's id, as WhatsApp's stanzas have
        message=update,
        created_at=now or timezone.now(),
    )


def is_linked(instance: Instance) -> bool:
    """Has the sandbox instance an account to receive anything (linked, or set to link itself)?"""
    linked = SandboxPhone.objects.filter(instance=instance).exclude(linked_jid="").exists()
    return linked or bool((instance.sandbox or {}).get("linked"))


# -- the worker's side ---------------------------------------------------------------------------


def pending(instance_pks: Iterable[int]) -> list[SandboxIncoming]:
    """Messages not yet delivered to these instances, oldest first, at most PENDING_PER_TICK."""
    wanted = set(instance_pks)
    if not wanted:
        return []
    # Asked every tick for every connected sandbox session: undelivered rows are few (the index
    # leads with delivered_at), so the instances are picked here rather than in an IN list of
    # thousands that costs more to build than the query does to run.
    rows = SandboxIncoming.objects.filter(delivered_at__isnull=True).defer("media").order_by("id")
    found: list[SandboxIncoming] = []
    for row in rows.iterator(chunk_size=PENDING_PER_TICK):
        if row.instance_id in wanted:
            found.append(row)
            if len(found) == PENDING_PER_TICK:
                break
    return found


def unlink(instance_pk: int) -> None:
    """The simulated phone forgets the account (a logout): its link is the sandbox's session
    store, so the next connect shows a QR code again."""
    SandboxPhone.objects.filter(instance_id=instance_pk).update(
        linked_jid="", push_name="", linked_at=None, scan_requested_at=None
    )


def mark_delivered(ids: Iterable[int], now: datetime) -> int:
    return SandboxIncoming.objects.filter(id__in=list(ids), delivered_at__isnull=True).update(
        delivered_at=now
    )


def media_of(instance_pk: int, wa_message_id: str) -> bytes | None:
    """The bytes a contact sent with a message (None: no such message)."""
    row = SandboxIncoming.objects.filter(instance_id=instance_pk, wa_message_id=wa_message_id).first()
    return None if row is None else bytes(row.media)


def prune(now: datetime) -> int:
    """Delivered messages older than the inbox keeps the messages themselves."""
    before = now - timedelta(days=settings.WAZIPER_INBOX_RETENTION_DAYS)
    return SandboxIncoming.objects.filter(delivered_at__lt=before).delete()[0]


# -- checks --------------------------------------------------------------------------------------


def _choice(options: tuple[str, ...]) -> Any:
    def check(value: Any) -> str:
        if value not in options:
            raise ValidationError(f"Must be one of: {', '.join(options)}.")
        return str(value)

    return check


def _text(limit: int) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError("Must be a string.")
        refuse_unstorable(value)
        if len(value) > limit:
            raise ValidationError(f"Must be at most {limit} characters.")
        return value

    return check


def _phone(value: Any) -> str:
    match = _PHONE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValidationError("Must be a phone number of 8 to 15 digits with an optional leading +.")
    return match.group(1)


def _group(value: Any) -> str:
    if not isinstance(value, str) or not _GROUP.match(value.strip().lower()):
        raise ValidationError("Must be a group JID such as 120363000000000000@g.us.")
    return value.strip().lower()


def _message_id(value: Any) -> str:
    if not isinstance(value, str) or not _MESSAGE_ID.match(value.strip()):
        raise ValidationError("Must be a WhatsApp message id (letters, digits, '_.:-', at most 64).")
    return value.strip()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise ValidationError("Must be true or false.")


def _int(low: int, high: int) -> Any:
    def check(value: Any) -> int:
        try:
            number = int(value) if not isinstance(value, bool | float) else None
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number <= high:
            raise ValidationError(f"Must be a whole number from {low} to {high}.")
        return number

    return check


def _number(low: float, high: float) -> Any:
    def check(value: Any) -> float:
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or not low <= number <= high:
            raise ValidationError(f"Must be a number from {low:g} to {high:g}.")
        return number

    return check


def _media(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValidationError("Must be the media's bytes in base64.")
    if len(value) > (MEDIA_MAX_BYTES * 4) // 3 + 4:
        raise ValidationError(f"Must be at most {MEDIA_MAX_BYTES} bytes.")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("Must be the media's bytes in base64.") from None
    if len(decoded) > MEDIA_MAX_BYTES:
        raise ValidationError(f"Must be at most {MEDIA_MAX_BYTES} bytes.")
    return decoded


def _phones(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not value or len(value) > PARTICIPANTS_LIMIT:
        raise ValidationError(f"Must be a list of 1 to {PARTICIPANTS_LIMIT} phone numbers.")
    return list(dict.fromkeys(_phone(phone) for phone in value))


def _options(value: Any) -> list[str]:
    low, high = POLL_OPTIONS
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise ValidationError(f"Must be a list of {low} to {high} options.")
    checked = [_text(100)(option) for option in value]
    if any(not option.strip() for option in checked):
        raise ValidationError("Options must not be empty.")
    if len(set(checked)) != len(checked):
        raise ValidationError("Options must differ from each other.")
    return checked


def _vcard_name(vcard: str) -> str:
    match = re.search(r"^FN:(.*)$", vcard, re.MULTILINE)
    return match.group(1).strip() if match else ""
