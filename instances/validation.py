"""Validation shared by the API, the admin and the management commands.

Each validator returns the normalised value or raises django's ValidationError with a message
that names what is wrong, so every entry point refuses the same input the same way.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from instances.models.instance import INSTANCE_ID_LENGTH, is_instance_id

PROXY_SCHEMES = ("socks5", "socks5h", "http", "https")

# The simulated phone's knobs (worker/transports/sandbox.py): name → allowed values or range.
SANDBOX_CHOICES: dict[str, tuple[str, ...]] = {
    "connect": ("ok", "fail", "hang", "flaky"),
    "send": ("ok", "fail", "flaky", "reject"),
    # Questions to the session (groups, profile, …): answered, never answered, or refused.
    "query": ("ok", "hang", "fail"),
    "receipts": ("read", "delivered", "none"),
}
SANDBOX_NUMBERS: dict[str, tuple[float, float]] = {
    "fail_rate": (0.0, 1.0),
    "latency_ms": (0, 60_000),
    "seed": (0, 2**31 - 1),
}
SANDBOX_FLAGS = ("linked", "auto_scan")


def validate_instance_id(value: Any) -> str:
    """A chosen instance id: 13 hexadecimal characters (Waziper's `strtoupper(uniqid())`),
    either case; returned upper-case, as every instance id is kept."""
    if not isinstance(value, str):
        raise ValidationError("Must be a string.")
    normalized = value.strip().upper()
    if not is_instance_id(normalized):
        raise ValidationError(
            f"Must be {INSTANCE_ID_LENGTH} hexadecimal characters, such as 664461B63FB8A "
            "(an id Waziper made with strtoupper(uniqid()) is one)."
        )
    return normalized


IMPORTED_TOKEN_MIN = 13  # Waziper's team tokens: uniqid(), 13 lower-case hex characters
IMPORTED_TOKEN_MAX = 200  # longer keys are never looked up (AccessToken.objects.authenticate)


def validate_imported_token(value: str) -> str:
    """A token a client already uses, kept as it is: 13 to 200 visible ASCII characters."""
    if not IMPORTED_TOKEN_MIN <= len(value) <= IMPORTED_TOKEN_MAX or not all(
        "\x21" <= ch <= "\x7e" for ch in value
    ):
        raise ValidationError(
            f"A token must be {IMPORTED_TOKEN_MIN} to {IMPORTED_TOKEN_MAX} visible ASCII characters "
            "without spaces (a Waziper team token, such as 649ba622aa900, is 13)."
        )
    return value


def validate_proxy_url(value: str) -> str:
    """'' (no proxy) or scheme://[user:pass@]host:port with a scheme neonize can dial through."""
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > 500 or any(ch.isspace() for ch in value):
        raise ValidationError("Proxy URL must be at most 500 characters without spaces.")
    try:
        parts = urlsplit(value)  # ValueError on unbalanced or misused brackets: socks5://[::1:1080
    except ValueError as exc:
        raise ValidationError(f"Proxy URL is malformed ({exc}).") from None
    if parts.scheme not in PROXY_SCHEMES:
        raise ValidationError(
            f"Proxy URL scheme must be one of {', '.join(PROXY_SCHEMES)} (got {parts.scheme!r})."
        )
    try:
        port = parts.port
    except ValueError:
        raise ValidationError("Proxy URL port must be a number from 1 to 65535.") from None
    if not parts.hostname or port is None or not 1 <= port <= 65535:
        raise ValidationError("Proxy URL needs a host and a port, e.g. socks5://127.0.0.1:1080.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError("Proxy URL must not have a path, query or fragment.")
    return value


def validate_sandbox_behaviour(value: Any) -> dict[str, Any]:
    """The sandbox JSON: an object of known keys with allowed values (see SANDBOX_* above)."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError('Sandbox behaviour must be a JSON object, e.g. {"connect": "fail"}.')
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in SANDBOX_CHOICES:
            if item not in SANDBOX_CHOICES[key]:
                raise ValidationError(f"sandbox.{key} must be one of {', '.join(SANDBOX_CHOICES[key])}.")
            out[key] = item
        elif key in SANDBOX_NUMBERS:
            low, high = SANDBOX_NUMBERS[key]
            if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
                raise ValidationError(f"sandbox.{key} must be a number.")
            if not low <= item <= high:
                raise ValidationError(f"sandbox.{key} must be between {low:g} and {high:g}.")
            out[key] = int(item) if key in ("latency_ms", "seed") else float(item)
        elif key in SANDBOX_FLAGS:
            if not isinstance(item, bool):
                raise ValidationError(f"sandbox.{key} must be true or false.")
            out[key] = item
        elif key in SANDBOX_DIRECTORY:
            out[key] = SANDBOX_DIRECTORY[key](item)
        else:
            known = sorted([*SANDBOX_CHOICES, *SANDBOX_NUMBERS, *SANDBOX_FLAGS, *SANDBOX_DIRECTORY])
            raise ValidationError(f"Unknown sandbox key {key!r}; known keys: {', '.join(known)}.")
    return out


# -- the simulated phone's address book: its groups and which numbers have WhatsApp ------------
SANDBOX_GROUPS_LIMIT = 100
SANDBOX_PARTICIPANTS_LIMIT = 1024  # WhatsApp's own cap on a group
SANDBOX_NUMBERS_LIMIT = 10_000
SANDBOX_ON_WHATSAPP_RULES = ("all", "none")
_SANDBOX_PHONE_RE = re.compile(r"^\+?([0-9]{8,15})$")
_SANDBOX_GROUP_ID_RE = re.compile(r"^[0-9]{5,25}(?:-[0-9]{5,15})?@g\.us$")
_SANDBOX_GROUP_KEYS = ("id", "name", "description", "admin", "participants")
_SANDBOX_PARTICIPANT_KEYS = ("phone", "admin", "superadmin")


def _sandbox_phone(value: Any, where: str) -> str:
    match = _SANDBOX_PHONE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationError(f"{where} must be a phone number of 8 to 15 digits (got {value!r:.40}).")
    return match.group(1)


def _sandbox_participant(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        value = {"phone": value}
    if not isinstance(value, dict) or set(value) - set(_SANDBOX_PARTICIPANT_KEYS):
        raise ValidationError(
            f"{where} must be a phone number or an object with {', '.join(_SANDBOX_PARTICIPANT_KEYS)}."
        )
    flags = {}
    for flag in ("admin", "superadmin"):
        if not isinstance(value.get(flag, False), bool):
            raise ValidationError(f"{where}.{flag} must be true or false.")
        flags[flag] = value.get(flag, False)
    return {"phone": _sandbox_phone(value.get("phone"), f"{where}.phone"), **flags}


def _sandbox_groups(value: Any) -> list[dict[str, Any]]:
    """sandbox.groups: the groups the simulated account is in, each `{"id": "…@g.us", "name",
    "description", "admin": whether the account is an admin (default true), "participants":
    [phone | {"phone", "admin", "superadmin"}]}`."""
    if not isinstance(value, list) or len(value) > SANDBOX_GROUPS_LIMIT:
        raise ValidationError(f"sandbox.groups must be a list of at most {SANDBOX_GROUPS_LIMIT} groups.")
    groups, ids = [], set()
    for index, group in enumerate(value):
        where = f"sandbox.groups.{index}"
        if not isinstance(group, dict) or set(group) - set(_SANDBOX_GROUP_KEYS):
            raise ValidationError(f"{where} must be an object with {', '.join(_SANDBOX_GROUP_KEYS)}.")
        group_id = group.get("id")
        if not isinstance(group_id, str) or not _SANDBOX_GROUP_ID_RE.match(group_id) or group_id in ids:
            raise ValidationError(f"{where}.id must be a distinct group id such as 120363000000000001@g.us.")
        ids.add(group_id)
        texts = {}
        for key, limit in (("name", 100), ("description", 2048)):
            text = group.get(key, "")
            if not isinstance(text, str) or len(text) > limit:
                raise ValidationError(f"{where}.{key} must be text of at most {limit} characters.")
            texts[key] = text
        if not isinstance(group.get("admin", True), bool):
            raise ValidationError(f"{where}.admin must be true or false.")
        members = group.get("participants", [])
        if not isinstance(members, list) or len(members) > SANDBOX_PARTICIPANTS_LIMIT:
            raise ValidationError(
                f"{where}.participants must be a list of at most {SANDBOX_PARTICIPANTS_LIMIT} participants."
            )
        participants = [_sandbox_participant(m, f"{where}.participants.{i}") for i, m in enumerate(members)]
        groups.append(
            {"id": group_id, **texts, "admin": group.get("admin", True), "participants": participants}
        )
    return groups


def _sandbox_on_whatsapp(value: Any) -> str | list[str]:
    """sandbox.on_whatsapp: which numbers the simulated WhatsApp knows: "all" (the default),
    "none", or a list of phone numbers."""
    if value in SANDBOX_ON_WHATSAPP_RULES:
        return value
    if not isinstance(value, list) or len(value) > SANDBOX_NUMBERS_LIMIT:
        raise ValidationError(
            'sandbox.on_whatsapp must be "all", "none" or a list of at most '
            f"{SANDBOX_NUMBERS_LIMIT} phone numbers."
        )
    return [_sandbox_phone(phone, f"sandbox.on_whatsapp.{i}") for i, phone in enumerate(value)]


SANDBOX_DIRECTORY = {"groups": _sandbox_groups, "on_whatsapp": _sandbox_on_whatsapp}


def validate_instance_name(value: str) -> str:
    value = (value or "").strip()
    if len(value) > 100:
        raise ValidationError("Name must be at most 100 characters.")
    if any(ord(ch) < 32 for ch in value):
        raise ValidationError("Name must not contain control characters.")
    return value


# Per-instance send spacing: a day between two sends is already no sending at all; far larger
# values overflow timedelta where the worker and /queue-status compute the next send time.
MAX_SEND_DELAY_S = 86_400.0


def validate_send_delays(low: float | None, high: float | None) -> dict[str, str]:
    """Problems with an instance's own send spacing (None: the setting applies), by field."""
    errors: dict[str, str] = {}
    for field, value in (("send_delay_min", low), ("send_delay_max", high)):
        if value is not None and not (math.isfinite(value) and 0 <= value <= MAX_SEND_DELAY_S):
            errors[field] = f"Must be from 0 to {MAX_SEND_DELAY_S:g} seconds."
    if not errors and low is not None and high is not None and high < low:
        errors["send_delay_max"] = "Must be at least send_delay_min."
    return errors


# Per-instance typing before each send: a few seconds look human; more only delays the queue.
MAX_TYPING_S = 10.0


def validate_typing(low: float | None, high: float | None) -> dict[str, str]:
    """Problems with an instance's default typing time (None: no typing), by field."""
    errors: dict[str, str] = {}
    for field, value in (("typing_min_s", low), ("typing_max_s", high)):
        if value is not None and not (math.isfinite(value) and 0 <= value <= MAX_TYPING_S):
            errors[field] = f"Must be from 0 to {MAX_TYPING_S:g} seconds."
    if not errors and low is not None and high is not None and high < low:
        errors["typing_max_s"] = "Must be at least typing_min_s."
    return errors
