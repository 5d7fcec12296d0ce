"""Text from outside (WhatsApp, a session host, a receiver) made storable."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def storable(text: str) -> str:
    """`text` without what no database stores: NUL characters (PostgreSQL refuses them) and lone
    surrogates (JSON lets them through; UTF-8 cannot encode them), each of those replaced."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def refuse_unstorable(value: str) -> str:
    """`value` unchanged, or a ValidationError if it holds what no database stores (see
    `storable`): input a person sent is refused with a reason, never silently altered."""
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Must be valid Unicode text.") from None
    return value
