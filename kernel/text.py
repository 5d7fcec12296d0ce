"""Text from outside (WhatsApp, a session host, a receiver) made storable."""

from __future__ import annotations


def storable(text: str) -> str:
    """`text` without what no database stores: NUL characters (PostgreSQL refuses them) and lone
    surrogates (JSON lets them through; UTF-8 cannot encode them), each of those replaced."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
