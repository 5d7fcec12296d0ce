"""What an endpoint may be: its URL (through the SSRF guard), its event filter, its format."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.core.exceptions import ValidationError

from queueing import netguard
from webhooks import events, formats

URL_LIMIT = 2000
_SPACE_OR_CONTROL_RE = re.compile(r"[\s\x00-\x1f\x7f]")


def validate_url(value: Any, *, allow_private: bool) -> str:
    """An http(s) URL whose host the SSRF guard allows now (deliveries check again when they
    connect: a name may resolve elsewhere later)."""
    if not isinstance(value, str):
        raise ValidationError("Must be a string.")
    value = value.strip()
    if not value or len(value) > URL_LIMIT or _SPACE_OR_CONTROL_RE.search(value):
        raise ValidationError(f"Must be a URL of 1 to {URL_LIMIT} characters without spaces.")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"Must be a well-formed URL ({exc}).") from None
    try:
        # What the deliverer's client makes of it (IDNA, IPv6 literals): else every attempt fails.
        if not httpx.URL(value).host:
            raise ValidationError("Must name a host.")
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise ValidationError(f"Must be a well-formed URL ({exc}).") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Must be an http:// or https:// URL.")
    if not parts.hostname:
        raise ValidationError("Must name a host.")
    if port is not None and not 1 <= port <= 65535:
        raise ValidationError("Port must be a number from 1 to 65535.")
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    reason = netguard.early_check(parts.hostname, port, allow_private)
    if reason:
        raise ValidationError(
            f"Refused: {reason} (private, loopback and link-local hosts are not posted to unless "
            "WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS is set)."
        )
    return value


def validate_events(value: Any) -> list[str]:
    """A list of event types (empty: all of them), each named once."""
    if not isinstance(value, list | tuple):
        raise ValidationError("Must be a list of event types.")
    unknown = [item for item in value if not isinstance(item, str) or item not in events.EVENT_TYPES]
    if unknown:
        raise ValidationError(
            f"Unknown event type(s) {', '.join(map(repr, unknown[:5]))}; "
            f"choose from {', '.join(events.EVENT_TYPES)}."
        )
    return list(dict.fromkeys(value))


def validate_format(value: Any) -> str:
    if value not in formats.FORMATS:
        raise ValidationError(f"Must be one of: {', '.join(formats.FORMATS)}.")
    return str(value)
