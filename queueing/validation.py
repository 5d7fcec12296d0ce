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
import mimetypes
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

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

    def fingerprint(self) -> str:
        """Stable hash of what was asked for (to spot an Idempotency-Key reused for another message)."""
        raw = json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def check_string(value: str) -> str:
    """Refuse text no database can store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Must be valid Unicode text.") from None
    return value


def _phone_digits(value: str) -> str | None:
    match = PHONE_RE.match(_PHONE_SEPARATORS_RE.sub("", value))
    return match.group(1) if match else None


def normalize_chat_id(value: str) -> str:
    """Phone digits (a leading +, spaces and dashes dropped), a user JID on s.whatsapp.net
    (`…@c.us` is the same chat), or a lower-cased group JID."""
    value = check_string(value or "").strip()
    if match := GROUP_JID_RE.match(value):
        return f"{match.group(1)}@g.us"
    if match := USER_JID_RE.match(value):
        if digits := _phone_digits(match.group(1)):
            return f"{digits}@s.whatsapp.net"
    elif digits := _phone_digits(value):
        return digits
    raise ValidationError(
        "Must be a phone number of 8 to 15 digits (a leading +, spaces and dashes are ignored), "
        "or a JID such as 6281234567890@s.whatsapp.net, 6281234567890@c.us or 120363000000000000@g.us."
    )


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
    value = check_string(value or "").strip()
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
    value = check_string(value or "").strip()
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
    text = check_string(text or "")
    if kind == Kind.TEXT:
        if not text.strip():
            raise ValidationError("A text message needs text (caption or message).")
        if len(text) > TEXT_LIMIT:
            raise ValidationError(f"Text must be at most {TEXT_LIMIT} characters (got {len(text)}).")
    elif kind == Kind.AUDIO:
        # WhatsApp audio messages have no caption. Waziper's server sends the audio and drops
        # the caption its clients post with every media message; refusing the message would
        # lose it.
        text = ""
    elif len(text) > CAPTION_LIMIT:
        raise ValidationError(f"A caption must be at most {CAPTION_LIMIT} characters (got {len(text)}).")
    return text


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
) -> MessageDraft:
    """Validate one message; the ValidationError's dict names every bad field. `host_check`
    judges the media URL's host (default: netguard.early_check, one DNS lookup)."""
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
    if kind_value is not None:
        if kind_value == Kind.TEXT:
            if (media_url or "").strip():
                errors.setdefault("media_url", []).append("Only media types take a media_url.")
        elif not (media_url or "").strip():
            errors.setdefault("media_url", []).append(f"A {kind_value} message needs a media_url.")
        else:
            run(
                "media_url", validate_media_url, media_url, allow_private=allow_private, host_check=host_check
            )
        run(text_field, _check_text, kind_value, text)
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
    )
