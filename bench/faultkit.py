"""Local TCP endpoints that fail the way real networks fail, for use as a SOCKS proxy.

Point an instance's proxy at one of these and the real neonize dials into it:

* ``refuse``       a port nobody accepts on: the dial is refused at once (RST to the SYN);
* ``reset``        accepts, then aborts the connection (RST) without a byte;
* ``hang``         accepts and never answers; the socket is held open until stop;
* ``close_after``  accepts, reads N bytes (default 3: a SOCKS5 greeting), then closes (FIN).

Tests::

    with FaultProxy("hang") as proxy:
        connect(proxy=proxy.url)          # socks5://127.0.0.1:<port>
        assert proxy.accepted >= 1

Operators (see docs/faultkit.md)::

    python -m bench.faultkit hang --port 1080
"""

from __future__ import annotations

import argparse
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType

MODES = ("refuse", "reset", "hang", "close_after")
# Short enough that stop() returns promptly, long enough not to spin.
_POLL_S = 0.05


class FaultProxy:
    """One faulty endpoint on ``host:port`` (port 0 picks a free one); start/stop or use ``with``."""

    def __init__(
        self,
        mode: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        nbytes: int = 3,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; choose one of {', '.join(MODES)}")
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        self.mode = mode
        self.host = host
        self.nbytes = nbytes
        self.accepted = 0
        self._requested_port = port
        self._port: int | None = None
        self._on_event = on_event or (lambda _msg: None)
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._listener is not None:
            raise RuntimeError("FaultProxy already started")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.mode != "refuse":
            # Lets the CLI restart on its port at once. Not for refuse: Linux lets a second
            # SO_REUSEADDR socket bind a port whose holders all set it and none listens.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self._listener = sock
        self._port = int(sock.getsockname()[1])
        if self.mode == "refuse":
            # Bound but never listening: Linux answers the SYN with RST, and holding the
            # port means no other process can take it and accept by accident.
            return self
        sock.listen(128)
        sock.setblocking(False)
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        """Close the listener and every held connection; idempotent."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        with self._lock:
            socks, self._held = self._held, []
        if self._listener is not None:
            socks.append(self._listener)
        for sock in socks:
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FaultProxy not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def url(self) -> str:
        return f"socks5://{self.host}:{self.port}"

    # -- behaviour ---------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"faultkit-{self.mode}")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not sel.select(_POLL_S):
                    continue
                try:
                    conn, peer = self._listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return  # listener closed under us: stopping
                self.accepted += 1
                self._on_event(f"{self.mode}: accepted {peer[0]}:{peer[1]}")
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        if self.mode == "reset":
            # Linger on with a zero timeout turns close() into an abortive RST.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        with self._lock:
            self._held.append(conn)
        if self.mode == "close_after":
            self._spawn(self._close_after, conn)
        # hang: hold the socket, read nothing, answer nothing.

    def _close_after(self, conn: socket.socket) -> None:
        conn.settimeout(_POLL_S)
        got = self._read(conn, self.nbytes)
        self._on_event(f"close_after: read {got} byte(s), closing")
        # A plain close() with unread bytes pending makes Linux send RST, not FIN; half-close
        # first and drain until the peer hangs up, so the client reliably reads a clean EOF.
        try:
            conn.shutdown(socket.SHUT_WR)
            while not self._stop.is_set() and self._read(conn, 65536, until_eof=True):
                pass
        except OSError:
            pass
        with self._lock:
            if conn in self._held:
                self._held.remove(conn)
        conn.close()

    def _read(self, conn: socket.socket, limit: int, until_eof: bool = False) -> int:
        """Read up to ``limit`` bytes (or one chunk with ``until_eof``); 0 once the peer closed."""
        got = 0
        while got < limit and not self._stop.is_set():
            try:
                chunk = conn.recv(limit - got)
            except TimeoutError:
                continue
            except OSError:
                return got
            if not chunk:
                return got
            got += len(chunk)
            if until_eof:
                return got
        return got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faultkit",
        description="Run a local endpoint that fails like a broken network, to use as a SOCKS proxy.",
    )
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=1080, help="port to bind; 0 picks a free one (default 1080)"
    )
    parser.add_argument(
        "--bytes", type=int, default=3, dest="nbytes", help="close_after: bytes to read first"
    )
    args = parser.parse_args(argv)

    def say(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)

    try:
        proxy = FaultProxy(
            args.mode, host=args.host, port=args.port, nbytes=args.nbytes, on_event=say
        ).start()
    except OSError as exc:
        print(f"cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    say(f"{args.mode} endpoint on {proxy.url}  (set it as the instance's proxy; Ctrl+C stops)")
    done.wait()
    proxy.stop()
    say(f"stopped after {proxy.accepted} connection(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
