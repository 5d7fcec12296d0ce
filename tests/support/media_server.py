"""A real HTTP server on loopback for media download tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # 10 248 bytes
# A RIFF/WEBP container as a sticker file starts (what the sender checks), 2 KiB in all.
WEBP = b"RIFF" + (2048 - 8).to_bytes(4, "little") + b"WEBPVP8 " + bytes(2048 - 16)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self.server.hits.append(parts.path)  # type: ignore[attr-defined]
        if parts.path == "/cat.png":
            self._send(200, PNG, {"Content-Type": "image/png"})
        elif parts.path == "/sticker.webp":
            self._send(200, WEBP, {"Content-Type": "image/webp"})
        elif parts.path == "/invoice":
            self._send(
                200,
                b"%PDF-1.4 tiny",
                {
                    "Content-Type": "application/pdf",
                    "Content-Disposition": 'attachment; filename="inv-7.pdf"',
                },
            )
        elif parts.path == "/redirect":
            self._send(302, headers={"Location": query["to"][0]})
        elif parts.path == "/loop":
            self._send(302, headers={"Location": "/loop"})
        elif parts.path == "/huge-declared":
            self._send(200, b"x", {"Content-Length": str(10**9)})
        elif parts.path == "/huge-streamed":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"y" * 1024)
        elif parts.path == "/stall":  # a slow media server: answers once the test releases it
            self.server.release.wait(60)  # type: ignore[attr-defined]
            self._send(200, PNG, {"Content-Type": "image/png"})
        elif parts.path == "/empty":
            self._send(200, b"")
        elif parts.path == "/error":
            self._send(int(query["code"][0]), b"nope")
        else:
            self._send(404, b"not found")


@contextmanager
def media_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hits = []  # type: ignore[attr-defined]
    server.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


def base_url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"
