"""A webhook receiver on 127.0.0.1 for tests and the benchmark: records every POST (headers,
body, arrival time) and answers as told — a status code, a hang until released, or not at all
(stopped: connections are refused).

    python -m tests.support.webhook_receiver PORT   # the benchmark's receiver, in its own process

As a process it also answers GET /stats (every POST's webhook-id, arrival time and the body's
`timestamp`) and POST /answer?code=N.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


def _timestamp(body: bytes) -> str | None:
    """The `timestamp` of a standard body (the event's time), for latency figures."""
    try:
        value = json.loads(body).get("timestamp")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind a proxy would

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the body
        # for the client's delayed ACK (~40 ms a request), which no real server suffers.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, code: int, body: bytes = b"ok", headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        parts = urlsplit(self.path)
        if parts.path == "/answer":  # the process's remote control
            receiver.answer = int(parse_qs(parts.query)["code"][0])
            self._answer(200)
            return
        item = Received(parts.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
        hang = parts.path in receiver.hanging
        with receiver.lock:
            receiver.received.append(item)
            receiver.arrived.notify_all()
        if hang:
            receiver.release.wait(60)
        elif receiver.delay_s:
            time.sleep(receiver.delay_s)
        code = receiver.answers.get(parts.path, receiver.answer)
        headers = {"Retry-After": receiver.retry_after} if receiver.retry_after and code >= 400 else {}
        if parts.path in receiver.redirects:
            code, headers = 307, {"Location": receiver.redirects[parts.path]}
        self._answer(code, f"answer {code}".encode(), headers)

    def do_GET(self) -> None:
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        if urlsplit(self.path).path != "/stats":
            self._answer(404, b"")
            return
        with receiver.lock:
            received = list(receiver.received)
        items = [{"id": r.webhook_id, "at": r.at, "timestamp": _timestamp(r.body)} for r in received]
        self._answer(200, json.dumps(items).encode(), {"Content-Type": "application/json"})


class Receiver:
    """Answers `answer` (200) to every POST, after `delay_s`; `answers[path]` overrides it per
    path; a path in `hanging` waits for `release`; a path in `redirects` answers 307 to its URL.
    `stop()` closes the port (connections are refused) and `start()` opens the same port again."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.answer = 200
        self.answers: dict[str, int] = {}
        self.retry_after = ""
        self.delay_s = 0.0  # a slow receiver: every answer takes this long
        self.hanging: set[str] = set()
        self.redirects: dict[str, str] = {}  # a path here answers 307 with this Location
        self.release = threading.Event()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.daemon_threads = True
        server.receiver = self  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def close(self) -> None:
        self.release.set()
        self.stop()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[Received]:
        """Wait (real time) until `count` POSTs (to `path`, if given) have arrived; return them."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                items = [r for r in self.received if path is None or r.path == path]
                if len(items) >= count:
                    return items
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(items)} of {count} webhook(s) arrived within {timeout}s")
                self.arrived.wait(left)


def main() -> None:
    receiver = Receiver(int(sys.argv[1])).start()
    print(f"receiver on {receiver.url('')}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
