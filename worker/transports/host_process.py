"""A session host child process as the worker sees it: spawned or forked, non-blocking line
I/O, a bounded stderr tail, and reaping that never blocks the worker's loop.

No threads per host: the worker reads each host's pipes from `Session.poll` with non-blocking
reads, and one process-wide reaper thread signals and waits for the hosts it was handed. So a
thousand failed attempts leave the worker with the fds, threads and memory it started with.
No Django and no neonize here.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.sessionhost import protocol as p

log = logging.getLogger("waziper.neonize.host")

ROOT = Path(__file__).resolve().parents[2]  # cwd of every host: `-m worker.sessionhost.main`
HOST_ARGV: tuple[str, ...] = (sys.executable, "-m", "worker.sessionhost.main")
STDERR_TAIL_BYTES = 4096
TERM_GRACE_S = 1.0  # SIGTERM -> SIGKILL; measured: even a host stuck in a dial dies in < 1 s
QUIT_GRACE_S = 3.0  # stdin closed -> SIGTERM; a healthy host exits 0 within ~2 s of stdin EOF
EOF_GRACE_S = 2.0  # stdout closed but the process still alive: treat it as dead after this
_READ_CHUNK = 65536
# The first line of a Go crash or a Python traceback's verdict, worth more than the 4 KB of
# goroutine dump that follows a Go `fatal error:`.
_FATAL = re.compile(rb"^(fatal error:|panic:|SIGSEGV|SIGABRT|runtime: |Traceback|\w+Error: )")


def describe_exit(code: int) -> str:
    if code <= -1000:  # fork_server.NEVER_STARTED, STATUS_LOST: the child says why itself
        return "ended; its exit status is unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class HostProcess:
    """One host child, spawned (`argv`) or forked by a fork server (`fork_server`, which runs
    `worker.sessionhost.main host_args`). Every method returns at once; nothing here ever waits
    on the child. `proc` is its subprocess.Popen, or a Popen-shaped ForkedChild."""

    def __init__(
        self,
        argv: Sequence[str] = HOST_ARGV,
        *,
        env: dict[str, str] | None = None,
        host_args: Sequence[str] = (),
        fork_server: Any = None,
    ) -> None:
        # Three pipes, made here for both ways of starting: the host's ends go to it (Popen's
        # dup2, or the fork server over its socket) and are closed here right after.
        pipes = [os.pipe() for _ in range(3)]
        theirs = (pipes[0][0], pipes[1][1], pipes[2][1])
        ours = (pipes[0][1], pipes[1][0], pipes[2][0])
        try:
            if fork_server is not None:
                self.proc: Any = fork_server.fork(host_args, env, theirs)
            else:
                # A session of its own: a terminal's Ctrl+C must not kill hosts before the worker
                # closes them (that would be recorded as crashes), and killpg also reaches
                # anything the host started (neonize runs ffmpeg for audio/video). If the worker
                # dies, each host sees stdin EOF and exits by itself.
                self.proc = subprocess.Popen(
                    [*argv, *host_args],
                    cwd=ROOT,
                    env=env,
                    stdin=theirs[0],
                    stdout=theirs[1],
                    stderr=theirs[2],
                    start_new_session=True,
                )
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        self.forked = fork_server is not None
        self._stdin, self._stdout, self._stderr = ours
        for fd in ours:
            os.set_blocking(fd, False)
        self.started = time.monotonic()
        self._to_host = bytearray()  # commands the pipe did not take yet
        self._from_host = bytearray()  # a partial stdout line
        self._err_line = bytearray()  # a partial stderr line
        self.stderr_tail = bytearray()
        self.fatal_line = ""
        self.stdout_eof_at: float | None = None
        self.closed = False

    @property
    def pid(self) -> int | None:
        """None only for a forked host whose fork the server has not answered yet."""
        if self.proc.pid is None:
            self.proc.server.pump()
        return self.proc.pid

    # -- stdin -----------------------------------------------------------------------------

    def write(self, line: bytes) -> bool:
        """Queue one command line and write what the pipe takes now. False: the host cannot
        read any more (it died or we closed it); poll() reports why."""
        if self.closed or self._stdin < 0:
            return False
        self._to_host += line
        return self.flush()

    def flush(self) -> bool:
        if self._stdin < 0:
            return False
        try:
            while self._to_host:
                del self._to_host[: os.write(self._stdin, self._to_host)]
        except BlockingIOError:
            pass  # the host is busy; the rest goes on the next poll
        except OSError:  # EPIPE: the host is gone
            self._to_host.clear()
            os.close(self._stdin)
            self._stdin = -1
            return False
        return True

    # -- stdout and stderr -----------------------------------------------------------------

    def read_lines(self) -> list[bytes]:
        """Every complete stdout line since the last call. Raises ProtocolError for a line
        longer than the protocol allows (garbage, or a host that lost its mind)."""
        if self.closed:
            return []
        self.flush()
        self.drain_stderr()
        while self.stdout_eof_at is None:
            try:
                chunk = os.read(self._stdout, _READ_CHUNK)
            except BlockingIOError:
                break
            if not chunk:
                self.stdout_eof_at = time.monotonic()
                break
            self._from_host += chunk
        *complete, rest = self._from_host.split(b"\n")
        if len(rest) > p.MAX_EVENT_BYTES:
            raise p.ProtocolError(f"a line longer than {p.MAX_EVENT_BYTES} bytes")
        self._from_host = bytearray(rest)
        lines = [bytes(line) for line in complete]
        if self.stdout_eof_at is not None and rest.strip():
            lines.append(bytes(rest))  # a last line without its newline is still a line
            self._from_host.clear()
        return lines

    def drain_stderr(self) -> None:
        """Keep the last STDERR_TAIL_BYTES and the first fatal line; log every line at debug."""
        if self._stderr < 0:
            return
        while True:
            try:
                chunk = os.read(self._stderr, _READ_CHUNK)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.stderr_tail += chunk
            del self.stderr_tail[:-STDERR_TAIL_BYTES]
            *lines, rest = (self._err_line + chunk).split(b"\n")
            self._err_line = bytearray(rest[-STDERR_TAIL_BYTES:])
            for line in lines:
                if not self.fatal_line and _FATAL.match(line):
                    self.fatal_line = line.decode("utf-8", "replace").strip()[:300]
                log.debug("host %s: %s", self.pid, line.decode("utf-8", "replace"))

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def crash_report(self, limit: int = 1500) -> str:
        """What a person needs to know about a host that died: how, and its last words."""
        self.drain_stderr()
        code = self.proc.poll()
        if code is None:
            how = "closed its stdout"
        else:
            how = getattr(self.proc, "failure", "") or describe_exit(code)
        text = f"session host (pid {self.pid}) {how}" if self.pid else f"session host {how}"
        if self.fatal_line:
            text += f": {self.fatal_line}"
        tail = self.stderr_tail.decode("utf-8", "replace").strip()
        if tail:
            text += f"; stderr tail: ...{tail[-limit:]}" if len(tail) > limit else f"; stderr tail: {tail}"
        return text

    # -- ending ----------------------------------------------------------------------------

    def close(self, *, graceful: bool = False) -> None:
        """Let the host go, at once: close our pipe ends and hand the child to the reaper.
        graceful: it gets QUIT_GRACE_S to finish on its own (stdin EOF) before SIGTERM."""
        if self.closed:
            return
        self.closed = True
        if graceful:
            self.flush()  # the last commands (disconnects), if the pipe takes them
        for fd in (self._stdin, self._stdout, self._stderr):
            if fd >= 0:
                os.close(fd)
        self._stdin = self._stdout = self._stderr = -1
        self._to_host.clear()
        self._from_host.clear()
        if self.proc.poll() is not None:
            return  # already reaped
        REAPER.adopt(Dying.graceful(self.proc) if graceful else Dying.now(self.proc))


def _signal_group(proc: Any, sig: int) -> None:
    if hasattr(proc, "signal_group"):  # a forked host: its fork server knows when it is reaped
        proc.signal_group(sig)
        return
    # Only while the child is unreaped: its pid (= its group id) cannot have been reused yet.
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Dying:
    """A child being let go: SIGTERM at term_at, SIGKILL at kill_at, until it is reaped."""

    proc: Any  # subprocess.Popen, or anything with its pid/poll()/returncode
    term_at: float
    kill_at: float
    termed: bool = False

    @classmethod
    def graceful(cls, proc: Any) -> Dying:
        """It was asked to end (stdin EOF): QUIT_GRACE_S before SIGTERM."""
        now = time.monotonic()
        return cls(proc, now + QUIT_GRACE_S, now + QUIT_GRACE_S + TERM_GRACE_S)

    @classmethod
    def now(cls, proc: Any) -> Dying:
        """SIGTERM now, SIGKILL after TERM_GRACE_S."""
        _signal_group(proc, signal.SIGTERM)
        now = time.monotonic()
        return cls(proc, now, now + TERM_GRACE_S, termed=True)


class _Reaper:
    """One daemon thread for the whole worker: signals the hosts it was handed on schedule and
    waits for them, so close() never blocks and no zombie is left. Started on first use."""

    POLL_S = 0.02

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._dying: list[Dying] = []
        self._thread: threading.Thread | None = None

    def adopt(self, dying: Dying) -> None:
        with self._cond:
            self._dying.append(dying)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="neonize-reaper", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._dying)

    def wait_idle(self, timeout: float) -> bool:
        """Block until every adopted host has been reaped (tests, benchmarks, worker shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._dying:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, self.POLL_S * 5))
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._dying:
                    self._cond.wait()
                dying = list(self._dying)
            now, done = time.monotonic(), []
            for entry in dying:
                try:
                    if entry.proc.poll() is not None:
                        done.append(entry)
                    elif now >= entry.kill_at:
                        _signal_group(entry.proc, signal.SIGKILL)
                    elif now >= entry.term_at and not entry.termed:
                        entry.termed = True
                        _signal_group(entry.proc, signal.SIGTERM)
                except Exception:  # the reaper must outlive any one odd child
                    log.exception("reaping host %s failed", entry.proc.pid)
                    done.append(entry)
            with self._cond:
                for entry in done:
                    self._dying.remove(entry)
                self._cond.notify_all()
            time.sleep(self.POLL_S)


REAPER = _Reaper()
