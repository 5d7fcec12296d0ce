"""Everything a message must satisfy before it is queued, shared by the API, the admin and tests.

`clean_message` returns a normalised MessageDraft or raises django's ValidationError with one
entry per bad field, so a client learns every mistake from one 400.

Limits: WhatsApp caps a caption at 1,024 characters (Meta's documented caption limit, e.g.
https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/image-messages/
"Maximum 1024 characters"); a text message at 65,536 characters, the limit of the WhatsApp apps
and the multi-device protocol neonize speaks (the Cloud API's 4,096 is that product's own cap).
"""

from __future__ import annotations

import hashlib
import json
import math
import mimetypes
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from kernel.text import refuse_unstorable
from queueing import netguard
from queueing.models import QueuedMessage

TEXT_LIMIT = 65_536
CAPTION_LIMIT = 1_024
MEDIA_URL_LIMIT = 2_000
FILENAME_LIMIT = 255
IDEMPOTENCY_KEY_LIMIT = 100
PRIORITY_RANGE = (-100, 100)

Kind = QueuedMessage.Kind
KINDS = tuple(Kind.values)
MEDIA_KINDS = (Kind.IMAGE, Kind.DOCUMENT, Kind.AUDIO, Kind.VIDEO)
# Kinds fetched from a media_url (a sticker is a webp file, downloaded like the others).
URL_KINDS = (*MEDIA_KINDS, Kind.STICKER)
# Kinds that act on an earlier message (`target_message_id`) rather than carry content.
TARGET_KINDS = (Kind.REACTION, Kind.EDIT, Kind.DELETE)
# Kinds whose text may mention people (WhatsApp keeps mentions in a text's or caption's contextInfo).
MENTION_KINDS = (Kind.TEXT, Kind.IMAGE, Kind.VIDEO, Kind.DOCUMENT)
# Kinds with no text of their own: a caption given for them would silently vanish.
TEXTLESS_KINDS = (Kind.LOCATION, Kind.CONTACT, Kind.POLL, Kind.STICKER, Kind.REACTION, Kind.DELETE)

# Location: WhatsApp shows a place's name and address under the map; generous caps, no more.
LOCATION_NAME_LIMIT = 256
LOCATION_ADDRESS_LIMIT = 1_024
CONTACT_NAME_LIMIT = 256
# A vCard as WhatsApp's apps share it is a few hundred bytes; a photo inside makes it kilobytes.
# 16 KiB keeps a card with a small photo and refuses a payload smuggled in as one.
VCARD_LIMIT = 16_384
# Polls: WhatsApp's apps take 2 to 12 options; a question of up to 255 characters, options of 100.
POLL_OPTIONS_RANGE = (2, 12)
POLL_QUESTION_LIMIT = 255
POLL_OPTION_LIMIT = 100
# One emoji may be many code points (a family, a flag with modifiers): a cap, not a count of one.
EMOJI_LIMIT = 32
# WhatsApp's own ids are short runs of hex or letters (3EB0…, or 32 hex characters from phones).
WA_MESSAGE_ID_RE = re.compile(r"^[0-9A-Za-z]{8,64}$")
MENTIONS_LIMIT = 1_024  # a WhatsApp group's member cap
TYPING_RANGE_S = (0.0, 10.0)
# Waziper's own API has `type=media` (with media_url) next to `type=text`; its PHP front ends
# send that, so we accept it and pick the WhatsApp kind from the file's extension.
MEDIA_ALIAS = "media"

# [0-9], never \d: \d also matches Arabic-Indic and other Unicode digits.
PHONE_RE = re.compile(r"^\+?([0-9]{8,15})$")
# A user's chat: WhatsApp's server name, or `c.us`, the name Waziper's clients append (the
# session maps it to s.whatsapp.net).
USER_JID_RE = re.compile(r"^(.*)@(?:s\.whatsapp\.net|c\.us)$", re.IGNORECASE)
# What people write inside a phone number (`+62 812-3456-7890`); a form's unencoded `+` also
# arrives as a space.
_PHONE_SEPARATORS_RE = re.compile(r"[\s-]+")
# Groups: new ids are long digit strings, old ones `<creator phone>-<timestamp>`.
GROUP_JID_RE = re.compile(r"^([0-9]{5,25}(?:-[0-9]{5,15})?)@g\.us$", re.IGNORECASE)
# WhatsApp's hidden user ids (LIDs) address a person without showing their number.
LID_JID_RE = re.compile(r"^([0-9]{5,25})@lid$", re.IGNORECASE)
IDEMPOTENCY_KEY_RE = re.compile(r"^[\x21-\x7e]+$")
# \s is str.isspace's set; one regex scan, not a Python loop per character (a bulk holds 1,000 URLs).
_SPACE_OR_CONTROL_RE = re.compile(r"[\s\x00-\x1f]")


@dataclass(frozen=True)
class MessageDraft:
    chat_id: str
    kind: str
    text: str = ""
    media_url: str = ""
    filename: str = ""
    priority: int = 0
    # The kind's own fields (location, contact, poll, emoji); queueing/references.py adds the
    # resolved `target` and `quoted` messages before the draft is queued.
    payload: dict[str, Any] = field(default_factory=dict)
    target_message_id: str = ""
    quoted_message_id: str = ""
    mentions: tuple[str, ...] = ()
    typing_s: float | None = None

    def fingerprint(self) -> str:
        """Stable hash of what was asked for (to spot an Idempotency-Key reused for another message)."""
        raw = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _phone_digits(value: str) -> str | None:
    match = PHONE_RE.match(_PHONE_SEPARATORS_RE.sub("", value))
    return match.group(1) if match else None


def normalize_chat_id(value: str) -> str:
    """Phone digits (a leading +, spaces and dashes dropped), a user JID on s.whatsapp.net
    (`…@c.us` is the same chat), or a lower-cased group or LID JID."""
    value = refuse_unstorable(value or "").strip()
    if match := GROUP_JID_RE.match(value):
        return f"{match.group(1)}@g.us"
    if match := LID_JID_RE.match(value):
        return f"{match.group(1)}@lid"
    if match := USER_JID_RE.match(value):
        if digits := _phone_digits(match.group(1)):
            return f"{digits}@s.whatsapp.net"
    elif digits := _phone_digits(value):
        return digits
    raise ValidationError(
        "Must be a phone number of 8 to 15 digits (a leading +, spaces and dashes are ignored), "
        "or a JID such as 6281234567890@s.whatsapp.net, 6281234567890@c.us, 120363000000000000@g.us "
        "or 123456789012345@lid."
    )


def full_jid(chat_id: str) -> str:
    """A normalized chat id as a JID: phone digits become `<digits>@s.whatsapp.net`."""
    return chat_id if "@" in chat_id else f"{chat_id}@s.whatsapp.net"


def is_group(chat_id: str) -> bool:
    return chat_id.endswith("@g.us")


def _url_path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:  # malformed: validate_media_url names the problem
        return ""


def infer_media_kind(media_url: str, filename: str) -> str:
    for name in (filename, _url_path(media_url)):
        mime = mimetypes.guess_type(name)[0] if name else None
        if mime:
            major = mime.split("/", 1)[0]
            if major in (Kind.IMAGE, Kind.AUDIO, Kind.VIDEO):
                return major
            return Kind.DOCUMENT
    return Kind.DOCUMENT


def normalize_kind(value: str | None, media_url: str, filename: str) -> str:
    value = (value or "").strip().lower()
    if not value:
        return infer_media_kind(media_url, filename) if media_url else Kind.TEXT
    if value == MEDIA_ALIAS:
        return infer_media_kind(media_url, filename)
    if value not in KINDS:
        raise ValidationError(f"Must be one of {', '.join(KINDS)} (or {MEDIA_ALIAS}).")
    return value


# Why a media host is refused, or None: (host, port, allow_private) -> reason.
HostCheck = Callable[[str, int, bool], str | None]


def _media_target(value: str) -> tuple[str, str, int]:
    """(the URL, its host, its port), or a ValidationError saying what is malformed."""
    value = refuse_unstorable(value or "").strip()
    if len(value) > MEDIA_URL_LIMIT or _SPACE_OR_CONTROL_RE.search(value):
        raise ValidationError(f"Must be a URL of at most {MEDIA_URL_LIMIT} characters without spaces.")
    try:
        parts = urlsplit(value)  # ValueError on unbalanced or misused brackets: http://[::1/
    except ValueError as exc:
        raise ValidationError(f"Must be a well-formed URL ({exc}).") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Must be an http:// or https:// URL.")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:  # 0 is no port, not "the default port"
        raise ValidationError("Port must be a number from 1 to 65535.")
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    if not parts.hostname:
        raise ValidationError("Must name a host.")
    return value, parts.hostname, port


def validate_media_url(value: str, *, allow_private: bool, host_check: HostCheck | None = None) -> str:
    value, host, port = _media_target(value)
    reason = (host_check or netguard.early_check)(host, port, allow_private)
    if reason:
        raise ValidationError(f"Refused: {reason} (private, loopback and link-local hosts are not fetched).")
    return value


def bulk_host_check(media_urls: Iterable[str], *, allow_private: bool) -> HostCheck:
    """The enqueue-time host check for a bulk: the distinct hosts of `media_urls` are looked up
    together, under one deadline for all (netguard.early_check_many), and the check answers
    from those verdicts. A malformed URL is skipped here: clean_message names its problem."""
    targets = []
    for url in media_urls:
        try:
            targets.append(_media_target(url)[1:])
        except ValidationError:
            continue
    verdicts = netguard.early_check_many(targets, allow_private)

    def check(host: str, port: int, allow_private: bool) -> str | None:
        key = (host.lower(), port)
        return verdicts[key] if key in verdicts else netguard.early_check(host, port, allow_private)

    return check


def validate_filename(value: str) -> str:
    value = refuse_unstorable(value or "").strip()
    if len(value) > FILENAME_LIMIT:
        raise ValidationError(f"Must be at most {FILENAME_LIMIT} characters.")
    if any(ch in "/\\" or ord(ch) < 32 for ch in value):
        raise ValidationError("Must be a plain file name (no path separators or control characters).")
    return value


def validate_idempotency_key(value: str) -> str:
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_LIMIT or not IDEMPOTENCY_KEY_RE.match(value):
        raise ValidationError(
            f"Must be 1 to {IDEMPOTENCY_KEY_LIMIT} visible ASCII characters (a UUID is a good key)."
        )
    return value


def _check_text(kind: str, text: str) -> str:
    text = refuse_unstorable(text or "")
    if kind in (Kind.TEXT, Kind.EDIT):
        if not text.strip():
            what = "A text message" if kind == Kind.TEXT else "An edit"
            raise ValidationError(f"{what} needs text (caption or message).")
        if len(text) > TEXT_LIMIT:
            raise ValidationError(f"Text must be at most {TEXT_LIMIT} characters (got {len(text)}).")
    elif kind == Kind.AUDIO:
        # WhatsApp audio messages have no caption. Waziper's server sends the audio and drops
        # the caption its clients post with every media message; refusing the message would
        # lose it.
        text = ""
    elif kind in TEXTLESS_KINDS:
        if text.strip():
            raise ValidationError(f"A {kind} message has no text or caption.")
        text = ""
    elif len(text) > CAPTION_LIMIT:
        raise ValidationError(f"A caption must be at most {CAPTION_LIMIT} characters (got {len(text)}).")
    return text


# -- the kinds' own fields ---------------------------------------------------------------------
# Each check takes the raw values and returns the kind's payload, or raises a ValidationError
# whose dict names every bad field (so one 400 lists them all).

Errors = dict[str, list[str]]


def _number(value: Any, low: float, high: float) -> float:
    """A finite number in [low, high]; a form's numeric string counts."""
    if isinstance(value, bool):
        raise ValidationError("Must be a number.")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValidationError("Must be a number.") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError("Must be a number.")
    if not low <= value <= high:
        raise ValidationError(f"Must be from {low:g} to {high:g} (got {value:g}).")
    return float(value)


def _whole_number(value: Any, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isascii() and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError("Must be a whole number.")
    if not low <= value <= high:
        raise ValidationError(f"Must be from {low} to {high} (got {value}).")
    return value


def _line(value: Any, limit: int, *, required: bool = False, what: str = "This") -> str:
    """One line of text: no control characters (a newline in a vCard name would add a line)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError("Must be text.")
    value = refuse_unstorable(value).strip()
    if required and not value:
        raise ValidationError(f"{what} is required.")
    if len(value) > limit:
        raise ValidationError(f"Must be at most {limit} characters (got {len(value)}).")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValidationError("Must be one line, without control characters.")
    return value


def _collect(errors: Errors, name: str, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return check(*args, **kwargs)
    except ValidationError as exc:
        errors.setdefault(name, []).extend(exc.messages)
        return None


def _raise_if(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def clean_location(latitude: Any, longitude: Any, name: Any, address: Any) -> dict[str, Any]:
    errors: Errors = {}
    lat = _collect(errors, "latitude", _required_number, latitude, -90.0, 90.0)
    lon = _collect(errors, "longitude", _required_number, longitude, -180.0, 180.0)
    place = _collect(errors, "location_name", _line, name, LOCATION_NAME_LIMIT)
    where = _collect(errors, "location_address", _line, address, LOCATION_ADDRESS_LIMIT)
    _raise_if(errors)
    return {"latitude": lat, "longitude": lon, "name": place, "address": where}


def _required_number(value: Any, low: float, high: float) -> float:
    if value is None or value == "":
        raise ValidationError("Required for a location.")
    return _number(value, low, high)


def validate_vcard(value: Any) -> str:
    """Loosely, as WhatsApp's apps read it, but safely: text of bounded size, one card from
    BEGIN:VCARD to END:VCARD, nothing but printable text and line breaks."""
    if not isinstance(value, str):
        raise ValidationError("Must be text.")
    value = refuse_unstorable(value).strip().replace("\r\n", "\n")
    if len(value.encode("utf-8")) > VCARD_LIMIT:
        raise ValidationError(f"Must be at most {VCARD_LIMIT} bytes.")
    if any((ord(ch) < 32 and ch not in "\n\t") or ord(ch) == 127 for ch in value):
        raise ValidationError("Must not contain control characters.")
    lines = value.split("\n")
    if lines[0].strip().upper() != "BEGIN:VCARD" or lines[-1].strip().upper() != "END:VCARD":
        raise ValidationError("Must be one vCard: from a BEGIN:VCARD line to an END:VCARD line.")
    if sum(line.strip().upper() == "BEGIN:VCARD" for line in lines) != 1:
        raise ValidationError("Must hold exactly one vCard.")
    return value


def vcard_name(vcard: str) -> str:
    """The card's FN (formatted name), or "" if it has none."""
    for line in vcard.split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.split(";", 1)[0].strip().upper() == "FN":
            return value.strip()[:CONTACT_NAME_LIMIT]
    return ""


def make_vcard(name: str, phone: str) -> str:
    """The card WhatsApp's apps send for a contact (as neonize's gen_vcard writes it): `waid`
    links the number to its WhatsApp account."""
    lines = ("BEGIN:VCARD", "VERSION:3.0", f"FN:{name}", f"item1.TEL;waid={phone}:+{phone}")
    return "\n".join((*lines, "item1.X-ABLabel:Mobile", "END:VCARD"))


def clean_contact(name: Any, phone: Any, vcard: Any) -> dict[str, Any]:
    errors: Errors = {}
    has_vcard = vcard not in (None, "")
    display = _collect(errors, "contact_name", _line, name, CONTACT_NAME_LIMIT)
    if has_vcard:
        card = _collect(errors, "vcard", validate_vcard, vcard)
        if phone not in (None, ""):
            errors.setdefault("contact_phone", []).append(
                "Give either a vCard or contact_name and contact_phone."
            )
        _raise_if(errors)
        display = display or vcard_name(card) or "Contact"
        return {"name": display, "vcard": card}
    digits = None
    if phone in (None, ""):
        errors.setdefault("contact_phone", []).append(
            "A contact needs contact_phone (and contact_name), or a vcard."
        )
    elif not isinstance(phone, str) or not (match := PHONE_RE.match(refuse_unstorable(phone).strip())):
        errors.setdefault("contact_phone", []).append(
            "Must be a phone number of 8 to 15 digits, optional leading +."
        )
    else:
        digits = match.group(1)
    if not display and "contact_name" not in errors:
        errors.setdefault("contact_name", []).append("A contact needs a name (or give a vcard).")
    _raise_if(errors)
    assert digits is not None
    return {"name": display, "phone": digits, "vcard": make_vcard(display, digits)}


def clean_poll(question: Any, options: Any, selectable_count: Any) -> dict[str, Any]:
    errors: Errors = {}
    asked = _collect(
        errors, "question", _line, question, POLL_QUESTION_LIMIT, required=True, what="A poll's question"
    )
    low, high = POLL_OPTIONS_RANGE
    choices: list[str] = []
    if not isinstance(options, list | tuple):
        errors["options"] = [f"A poll needs a list of {low} to {high} options."]
    elif not low <= len(options) <= high:
        errors["options"] = [f"A poll needs {low} to {high} options (got {len(options)})."]
    else:
        for index, option in enumerate(options):
            text = _collect(
                errors, f"options.{index}", _line, option, POLL_OPTION_LIMIT, required=True, what="An option"
            )
            if text is not None:
                choices.append(text)
        # WhatsApp counts votes by the hash of an option's text: two equal options are one.
        if len(choices) == len(options) and len(set(choices)) != len(choices):
            errors["options"] = ["Options must be distinct."]
    count = 1
    if selectable_count not in (None, ""):
        count = _collect(
            errors, "selectable_count", _whole_number, selectable_count, 1, max(1, len(choices) or high)
        )
    _raise_if(errors)
    return {"question": asked, "options": choices, "selectable_count": count}


def clean_emoji(value: Any) -> str:
    """The reaction; "" takes an earlier reaction away. None (not given) is an error: a removal
    must be asked for, never be what a forgotten field does."""
    if value is None:
        raise ValidationError('A reaction needs an emoji ("" removes an earlier reaction).')
    if not isinstance(value, str):
        raise ValidationError("Must be text.")
    value = refuse_unstorable(value).strip()
    if len(value) > EMOJI_LIMIT:
        raise ValidationError(f"Must be one emoji (at most {EMOJI_LIMIT} characters).")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValidationError("Must be one emoji, without spaces.")
    return value


def validate_message_ref(value: Any) -> str:
    """A message named by this gateway's message_id (a UUID) or by WhatsApp's id."""
    if not isinstance(value, str):
        raise ValidationError("Must be a message_id from this API or a WhatsApp message id.")
    value = refuse_unstorable(value).strip()
    if not value:
        raise ValidationError("Required.")
    if is_uuid(value) or WA_MESSAGE_ID_RE.match(value):
        return value
    raise ValidationError(
        "Must be a message_id from this API (a UUID) or a WhatsApp message id (8-64 letters and digits)."
    )


def is_uuid(value: str) -> bool:
    return bool(_UUID_RE.match(value))


# With its dashes, as this API writes message ids: 32 bare hex digits are a WhatsApp id.
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def normalize_mention(value: Any) -> str:
    """A person to mention, as the JID WhatsApp's contextInfo lists: a phone number or a user
    JID (`…@s.whatsapp.net`, `…@lid`)."""
    if not isinstance(value, str):
        raise ValidationError("Must be a phone number or a user JID.")
    chat = normalize_chat_id(value)
    if is_group(chat):
        raise ValidationError("Must be a person (a phone number or a user JID), not a group.")
    return full_jid(chat)


def clean_mentions(value: Any) -> tuple[str, ...]:
    """Phones or user JIDs, as a list or one comma-separated string; duplicates dropped."""
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    if not isinstance(value, list | tuple):
        raise ValidationError("Must be a list of phone numbers or user JIDs.")
    if len(value) > MENTIONS_LIMIT:
        raise ValidationError(f"At most {MENTIONS_LIMIT} mentions (got {len(value)}).")
    out: dict[str, None] = {}
    for index, item in enumerate(value):
        try:
            out[normalize_mention(item)] = None
        except ValidationError as exc:
            raise ValidationError(f"Item {index}: {' '.join(exc.messages)}") from None
    return tuple(out)


def clean_typing(value: Any) -> float | None:
    """Seconds of "typing…" shown before the message; None: the instance's default."""
    if value is None or value == "":
        return None
    return _number(value, *TYPING_RANGE_S)


def mentions_in_text(text: str, mentions: Iterable[str]) -> list[str]:
    """The mentioned JIDs whose `@<user>` the text shows (the others notify silently)."""
    return [jid for jid in mentions if f"@{jid.split('@', 1)[0]}" in text]


# What each kind takes besides chat_id, type and priority (a field given to a kind that does not
# take it is a mistake the client should hear of, not a value silently dropped).
KIND_FIELDS: dict[str, frozenset[str]] = {
    Kind.LOCATION: frozenset({"latitude", "longitude", "location_name", "location_address"}),
    Kind.CONTACT: frozenset({"contact_name", "contact_phone", "vcard"}),
    Kind.POLL: frozenset({"question", "options", "selectable_count"}),
    Kind.REACTION: frozenset({"target_message_id", "emoji"}),
    Kind.EDIT: frozenset({"target_message_id"}),
    Kind.DELETE: frozenset({"target_message_id"}),
}
ALL_KIND_FIELDS = frozenset().union(*KIND_FIELDS.values())


def _kind_payload(kind: str, extra: dict[str, Any], errors: Errors) -> tuple[dict[str, Any], str]:
    """The kind's payload and target reference, with every problem added to `errors`."""
    given = {name for name, value in extra.items() if value not in (None, "", [], ())}
    allowed = KIND_FIELDS.get(kind, frozenset())
    for name in sorted((given & ALL_KIND_FIELDS) - allowed):
        errors.setdefault(name, []).append(f"A {kind} message does not take {name}.")
    payload: dict[str, Any] = {}
    checks: dict[str, Callable[[], dict[str, Any]]] = {
        Kind.LOCATION: lambda: clean_location(
            extra.get("latitude"),
            extra.get("longitude"),
            extra.get("location_name"),
            extra.get("location_address"),
        ),
        Kind.CONTACT: lambda: clean_contact(
            extra.get("contact_name"), extra.get("contact_phone"), extra.get("vcard")
        ),
        Kind.POLL: lambda: clean_poll(
            extra.get("question"), extra.get("options"), extra.get("selectable_count")
        ),
    }
    if kind in checks:
        try:
            payload = checks[kind]()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    elif kind == Kind.REACTION:
        payload = {"emoji": _collect(errors, "emoji", clean_emoji, extra.get("emoji"))}
    target = ""
    if kind in TARGET_KINDS:
        target = (
            _collect(errors, "target_message_id", validate_message_ref, extra.get("target_message_id")) or ""
        )
    return payload, target


def clean_message(
    *,
    chat_id: str,
    kind: str | None = None,
    text: str = "",
    media_url: str = "",
    filename: str = "",
    priority: int = 0,
    allow_private: bool = False,
    text_field: str = "caption",
    host_check: HostCheck | None = None,
    quoted_message_id: Any = None,
    mentions: Any = None,
    typing_s: Any = None,
    **extra: Any,
) -> MessageDraft:
    """Validate one message; the ValidationError's dict names every bad field. `host_check`
    judges the media URL's host (default: netguard.early_check, one DNS lookup). `extra` holds
    the kinds' own fields (KIND_FIELDS)."""
    unknown = set(extra) - ALL_KIND_FIELDS
    if unknown:
        raise TypeError(f"clean_message() got unexpected fields {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def run(field: str, check: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            cleaned[field] = check(*args, **kwargs)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)
        return cleaned.get(field)

    run("chat_id", normalize_chat_id, chat_id)
    name = run("filename", validate_filename, filename) or ""
    kind_value = run("type", normalize_kind, kind, (media_url or "").strip(), name)
    payload: dict[str, Any] = {}
    target = ""
    if kind_value is not None:
        if kind_value not in URL_KINDS:
            if (media_url or "").strip():
                errors.setdefault("media_url", []).append("Only media types and stickers take a media_url.")
        elif not (media_url or "").strip():
            errors.setdefault("media_url", []).append(f"A {kind_value} message needs a media_url.")
        else:
            run(
                "media_url", validate_media_url, media_url, allow_private=allow_private, host_check=host_check
            )
        run(text_field, _check_text, kind_value, text)
        payload, target = _kind_payload(kind_value, extra, errors)
        acts_on_another = kind_value in TARGET_KINDS
        quoted = run("quoted_message_id", _optional_ref, quoted_message_id) or ""
        if quoted and acts_on_another:
            errors.setdefault("quoted_message_id", []).append(f"A {kind_value} cannot be a reply.")
        people = run("mentions", clean_mentions, mentions) or ()
        if people and kind_value not in MENTION_KINDS:
            errors.setdefault("mentions", []).append(
                f"Mentions go with text or a caption ({', '.join(MENTION_KINDS)}), not a {kind_value}."
            )
        typing = run("typing_s", clean_typing, typing_s)
        if typing is not None and acts_on_another:
            errors.setdefault("typing_s", []).append(f"A {kind_value} is not typed.")
    if (
        isinstance(priority, bool)
        or not isinstance(priority, int)
        or not (PRIORITY_RANGE[0] <= priority <= PRIORITY_RANGE[1])
    ):
        errors.setdefault("priority", []).append(
            f"Must be a whole number from {PRIORITY_RANGE[0]} to {PRIORITY_RANGE[1]}."
        )
    if errors:
        raise ValidationError(errors)
    return MessageDraft(
        chat_id=cleaned["chat_id"],
        kind=kind_value,
        text=cleaned[text_field],
        media_url=cleaned.get("media_url", ""),
        filename=name,
        priority=priority,
        payload=payload,
        target_message_id=target,
        quoted_message_id=quoted,
        mentions=people,
        typing_s=typing,
    )


def _optional_ref(value: Any) -> str:
    return "" if value in (None, "") else validate_message_ref(value)
