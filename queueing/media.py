"""Download a message's media for the worker, with a timeout, a size cap and the SSRF guard.

Plain http.client rather than a client library: we must choose the socket's address ourselves
(the one the guard approved) and follow redirects by hand so every hop is checked again.
Environment proxies are ignored on purpose: a proxy would hide the address being reached.
"""

from __future__ import annotations

import http.client
import mimetypes
import os
import re
import socket
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from queueing.netguard import BlockedAddress, Guard, Resolver, checked_addresses, system_resolver

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
USER_AGENT = "waziper-media/1.0"
_FILENAME_RE = re.compile(r"""filename\*?=(?:UTF-8'')?["']?([^"';]+)""", re.IGNORECASE)


class MediaError(Exception):
    """A download that failed. `permanent`: retrying the same URL cannot help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class FetchedMedia:
    path: str
    size: int
    mimetype: str
    filename: str


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to an address chosen in advance instead of resolving the host again."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # Certificate and SNI for the URL's host name, not the pinned address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _filename(url: str, disposition: str | None, mimetype: str) -> str:
    name = ""
    if disposition and (match := _FILENAME_RE.search(disposition)):
        name = unquote(match.group(1))
    if not name:
        name = unquote(os.path.basename(urlsplit(url).path))
    name = os.path.basename(name.replace("\\", "/")).strip()[:200]
    if not name:
        name = "file" + (mimetypes.guess_extension(mimetype or "") or "")
    return name


def _open(url: str, guard: Guard, resolver: Resolver, timeout: float) -> http.client.HTTPConnection:
    try:
        parts = urlsplit(url)  # a redirect's Location is not validated like the queued URL
        port = parts.port
    except ValueError as exc:
        raise MediaError(f"refused URL {url[:200]!r}: {exc}", permanent=True) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MediaError(f"refused URL {url[:200]!r}: only http(s) URLs with a host", permanent=True)
    if port is not None and not 1 <= port <= 65535:
        raise MediaError("refused URL: bad port", permanent=True)
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        address = checked_addresses(parts.hostname, port, guard, resolver)[0]
    except BlockedAddress as exc:
        raise MediaError(f"refused media URL: {exc}", permanent=True) from None
    except OSError as exc:
        raise MediaError(str(exc), permanent=False) from None
    cls = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    return cls(parts.hostname, port, address, timeout)


def fetch_media(
    url: str,
    *,
    dest_dir: str,
    timeout: float,
    max_bytes: int,
    guard: Guard,
    resolver: Resolver = system_resolver,
    monotonic: Callable[[], float] = time.monotonic,
) -> FetchedMedia:
    """Download `url` into a new file under `dest_dir`; raise MediaError on any failure.

    `timeout` bounds the whole download (connect, redirects, body), not each read, so a server
    that drips one byte a second cannot hold a worker thread for ever.
    """
    deadline = monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise MediaError(f"media download timed out after {timeout:g}s", permanent=False)
        conn = _open(url, guard, resolver, remaining)
        try:
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise MediaError(f"redirect {response.status} without a Location", permanent=True)
                try:
                    url = urljoin(url, location)
                except ValueError as exc:
                    raise MediaError(f"refused URL {location[:200]!r}: {exc}", permanent=True) from None
                continue
            if response.status != 200:
                # 4xx will not change on a retry (except 408/429); 5xx may.
                permanent = 400 <= response.status < 500 and response.status not in (408, 425, 429)
                raise MediaError(f"media URL answered HTTP {response.status}", permanent=permanent)
            return _save(conn, response, url, dest_dir, max_bytes, lambda: deadline - monotonic())
        except (OSError, http.client.HTTPException) as exc:
            raise MediaError(f"media download failed: {exc or type(exc).__name__}", permanent=False) from None
        finally:
            conn.close()
    raise MediaError(f"more than {MAX_REDIRECTS} redirects", permanent=True)


def _save(
    conn: http.client.HTTPConnection,
    response: http.client.HTTPResponse,
    url: str,
    dest_dir: str,
    max_bytes: int,
    remaining: Callable[[], float],
) -> FetchedMedia:
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise MediaError(f"media is {int(length)} bytes, over the {max_bytes}-byte limit", permanent=True)
    mimetype = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
    fd, path = tempfile.mkstemp(dir=dest_dir, prefix="media-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                left = remaining()
                if left <= 0:
                    raise MediaError("media download timed out", permanent=False)
                if conn.sock is not None:
                    conn.sock.settimeout(left)
                # read1: one recv at most, so the deadline is checked between drips.
                chunk = response.read1(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raise MediaError(f"media is over the {max_bytes}-byte limit", permanent=True)
                out.write(chunk)
    except BaseException:
        os.unlink(path)
        raise
    if size == 0:
        os.unlink(path)
        raise MediaError("media URL returned an empty body", permanent=True)
    if not mimetype or mimetype == "application/octet-stream":
        mimetype = mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"
    name = _filename(url, response.getheader("Content-Disposition"), mimetype)
    return FetchedMedia(path, size, mimetype, name)


def is_webp(path: str) -> bool:
    """Is the file a WebP image, by its magic bytes (RIFF container, WEBP form type)? What a
    server calls its Content-Type does not decide: WhatsApp shows only real webp stickers."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP"
