"""The worker's side of the fork server (worker/sessionhost/forkserver.py): ask it for hosts,
learn their pids and exit codes, and tell it when an exit has been read.

A forked host is the fork server's child, not the worker's. `ForkedChild` gives it the face of a
`subprocess.Popen` (pid, poll(), returncode) so the rest of the worker handles both alike. The
server keeps a dead host as a zombie until the worker has read its exit (`reap`), so signalling
its process group stays safe until then, exactly as for the worker's own children.

Nothing here blocks: requests are written to a non-blocking socket, and answers are read by
`pump()`, which every `ForkedChild.poll()` calls. If the server dies, hosts it forked live on
(they answer to their pipes, not to it) but their exit codes are lost; hosts it had not forked
yet are reported as never started. No Django and no neonize here.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from worker.transports.host_process import REAPER, Dying

log = logging.getLogger("waziper.neonize.forkserver")

ROOT = Path(__file__).resolve().parents[2]
FORK_SERVER_ARGV: tuple[str, ...] = (sys.executable, "-m", "worker.sessionhost.forkserver")
MAX_MESSAGE = 65536
# Exit codes of hosts whose real one cannot be known, in subprocess's convention: below any -signal.
NEVER_STARTED = -1000
STATUS_LOST = -1001


class ForkServerGone(Exception):
    """The fork server cannot take requests (it died, or it never got ready)."""


class ForkedChild:
    """A host forked by the fork server, shaped like subprocess.Popen for the reaper."""

    def __init__(self, server: ForkServer) -> None:
        self.server = server
        self.pid: int | None = None  # known once the server answers
        self.returncode: int | None = None
        self.failure = ""  # why it never started, or why its exit code is unknown
        self.orphaned = False  # the server died: no exit report will come
        self._signal_on_pid: int | None = None

    def poll(self) -> int | None:
        self.server.pump()
        with self.server.lock:
            if self.returncode is None and self.orphaned and self.pid is not None and not _exists(self.pid):
                self.returncode = STATUS_LOST
            return self.returncode

    def signal_group(self, sig: int) -> None:
        """Signal the host's process group, only while the server has not reaped it."""
        with self.server.lock:
            if self.returncode is not None:
                return
            if self.pid is None:
                self._signal_on_pid = sig  # the fork request is still queued: signal once forked
                return
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    # -- called by ForkServer, under its lock ----------------------------------------------------

    def _forked(self, pid: int) -> None:
        self.pid = pid
        if self._signal_on_pid is not None:
            sig, self._signal_on_pid = self._signal_on_pid, None
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def _never_started(self, why: str) -> None:
        self.failure = f"never started: {why}"
        self.returncode = NEVER_STARTED


def _exists(pid: int) -> bool:
    """Still running? A zombie is not: it waits for a new parent (init) to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class ForkServer:
    """One fork server child of the worker. Methods return at once; `pump()` reads its answers."""

    def __init__(self, argv: Sequence[str] = FORK_SERVER_ARGV, *, env: dict[str, str] | None = None) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [*argv, "--fd", str(child.fileno())],
                pass_fds=(child.fileno(),),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl+C is the worker's to handle
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        parent.setblocking(False)
        self.sock: socket.socket | None = parent
        self.pid = self.proc.pid
        self.lock = threading.RLock()  # the reaper thread polls forked children too
        self.ready: dict[str, Any] | None = None
        self.failed = ""  # why it can take no more requests
        self._pending: collections.deque[ForkedChild] = collections.deque()
        self._children: dict[int, ForkedChild] = {}

    @property
    def usable(self) -> bool:
        return not self.failed

    def fork(self, host_args: Sequence[str], env: dict[str, str] | None, fds: Sequence[int]) -> ForkedChild:
        """Ask for a host running `worker.sessionhost.main host_args` on the three descriptors
        (its stdin, stdout, stderr). The caller closes its copies once this returns. Raises
        ForkServerGone if the server cannot take the request."""
        message = json.dumps({"op": "fork", "argv": list(host_args), "env": env}).encode()
        with self.lock:
            self.pump()
            if self.failed or self.sock is None:
                raise ForkServerGone(self.failed or "closed")
            try:
                socket.send_fds(self.sock, [message], list(fds))
            except BlockingIOError:  # thousands of requests unread: it is stuck
                self._gone("the fork server stopped reading its requests")
                raise ForkServerGone(self.failed) from None
            except OSError as exc:
                self._gone(f"the fork server's socket failed: {exc}")
                raise ForkServerGone(self.failed) from None
            child = ForkedChild(self)
            self._pending.append(child)
            return child

    def pump(self) -> None:
        """Read every answer the server has sent so far."""
        with self.lock:
            while self.sock is not None:
                try:
                    data = self.sock.recv(MAX_MESSAGE)
                except BlockingIOError:
                    return
                except ConnectionResetError:  # it died with our requests unread
                    data = b""
                except OSError as exc:
                    self._gone(f"the fork server's socket failed: {exc}")
                    return
                if not data:
                    self._gone(self._death())
                    return
                try:
                    self._handle(json.loads(data))
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    self._gone(f"the fork server sent {data[:200]!r}: {exc!r}")
                    return

    def close(self) -> None:
        """Worker shutdown: the server exits when its socket closes. Hosts it forked are left to
        their own pipes (the caller closes those first, so they end on their own)."""
        with self.lock:
            self.pump()
            self._gone("closed")

    # -- internals -------------------------------------------------------------------------------

    def _handle(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "ready":
            self.ready = message
            log.info(
                "fork server %d ready: %d modules preloaded in %.2f s of CPU",
                self.pid,
                message.get("imported", 0),
                message.get("cpu_s", 0.0),
            )
        elif op == "failed":
            self._gone(f"the fork server could not preload: {message.get('error')}")
        elif op == "forked":
            child = self._pending.popleft()
            pid = int(message["pid"])
            self._children[pid] = child
            child._forked(pid)
        elif op == "fork_failed":
            self._pending.popleft()._never_started(f"the fork server could not fork: {message.get('error')}")
        elif op == "exited":
            pid = int(message["pid"])
            found = self._children.pop(pid, None)
            if found is not None:
                found.returncode = int(message["code"])
            # From now on nothing signals that pid; only then may the server reap it.
            self._send({"op": "reap", "pid": pid})
        else:
            log.warning("fork server %d: unknown message %r", self.pid, message)

    def _send(self, message: dict[str, Any]) -> None:
        if self.sock is None:
            return
        try:
            self.sock.send(json.dumps(message).encode())
        except OSError as exc:  # full or gone: the next pump sees the EOF
            log.warning("fork server %d: cannot send %s: %s", self.pid, message.get("op"), exc)

    def _death(self) -> str:
        code = self.proc.poll()
        if code is None:
            return f"the fork server (pid {self.pid}) closed its socket"
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        return f"the fork server (pid {self.pid}) {how}"

    def _gone(self, reason: str) -> None:
        if self.failed:
            return
        self.failed = reason
        if reason != "closed":
            log.warning("%s; hosts are spawned until it is restarted", reason)
        for child in self._pending:
            child._never_started(reason)
        self._pending.clear()
        for child in self._children.values():
            child.orphaned = True
            child.failure = f"ended; its exit status is unknown ({reason})"
        self._children.clear()
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        # Closed, it exits on the EOF; broken, it gets SIGTERM now. Either way it is reaped.
        REAPER.adopt(Dying.graceful(self.proc) if reason == "closed" else Dying.now(self.proc))
