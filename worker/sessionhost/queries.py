"""What a live session can be asked, answered from neonize inside the session host.

Each op is a coroutine taking the session's neonize client and the question's arguments and
returning plain JSON data. The host runs the whole op under its one lock, so every call into
neonize stays serialized. neonize's objects are duck-typed here, so this module does not import
neonize either (tests pass fakes). An op that cannot answer raises QueryRefused with a short code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from worker.sessionhost import protocol as p
from worker.sessionhost.support import jid_str

Op = Callable[[Any, dict[str, Any]], Awaitable[Any]]


class QueryRefused(Exception):
    """The session answered, but with no: `code` says why (not_found, forbidden, invalid…)."""

    def __init__(self, message: str, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


async def profile(client: Any, args: dict[str, Any]) -> dict[str, Any]:
    """The linked account itself: its JID and push name."""
    me = await client.get_me()
    return {"jid": jid_str(me.JID), "name": me.PushName or ""}


# whatsmeow's media types (neonize.utils.enum.MediaType) and the names its download uses for them
# (MediaTypeToMMS); neonize reads only their `.value`. A sticker is fetched as an image.
_MEDIA_TYPES = {
    "image": (0, "image"),
    "sticker": (0, "image"),
    "video": (1, "video"),
    "audio": (2, "audio"),
    "document": (3, "document"),
}


async def download_media(client: Any, args: dict[str, Any]) -> dict[str, Any]:
    """A received message's media, fetched from WhatsApp's servers while they still serve it,
    written into ``args["path"]``: a file the worker made (the host never creates one), since
    media may be far larger than a protocol line. Answers its size and SHA-256."""
    download, path, max_bytes = args.get("download"), args.get("path"), args.get("max_bytes")
    if not isinstance(download, dict) or not isinstance(path, str) or not os.path.isabs(path):
        raise QueryRefused("download_media needs 'download' (an object) and 'path' (absolute)", "invalid")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise QueryRefused("download_media needs 'max_bytes', a positive integer", "invalid")
    media_type = _MEDIA_TYPES.get(str(download.get("media_type")))
    direct_path = download.get("direct_path")
    if media_type is None or not isinstance(direct_path, str) or not direct_path:
        raise QueryRefused("WhatsApp gave no way to download this message's media", "not_found")
    try:
        keys = [base64.b64decode(download.get(k) or "", validate=True) for k in _KEYS]
    except (TypeError, ValueError):
        raise QueryRefused("the media's keys are not base64", "invalid") from None
    length = download.get("file_length")
    length = length if isinstance(length, int) and not isinstance(length, bool) and length >= 0 else 0
    if length > max_bytes:
        raise QueryRefused(f"the media is {length} bytes, more than the {max_bytes} allowed", "too_large")
    enc_sha256, sha256, media_key = keys
    try:
        data = await client.download_media_with_path(
            direct_path,
            enc_sha256,
            sha256,
            media_key,
            length,
            SimpleNamespace(value=media_type[0]),
            SimpleNamespace(value=media_type[1]),
        )
    except Exception as exc:
        text = str(exc) or type(exc).__name__
        if any(code in text for code in ("status code 404", "status code 410")):
            raise QueryRefused(f"WhatsApp no longer serves this media ({text})", "gone") from None
        raise
    if len(data) > max_bytes:
        raise QueryRefused(f"the media is {len(data)} bytes, more than the {max_bytes} allowed", "too_large")
    await asyncio.to_thread(_write_into, path, data)
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


_KEYS = ("file_enc_sha256", "file_sha256", "media_key")


def _write_into(path: str, data: bytes) -> None:
    # No O_CREAT: the worker made the file, so a bad path cannot make the host write anywhere new.
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


OPS: dict[str, Op] = {"profile": profile, "download_media": download_media}
assert set(OPS) == set(p.QUERY_OPS), "protocol.QUERY_OPS and queries.OPS must name the same ops"
