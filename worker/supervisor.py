"""`manage.py serve` keeps one `run_worker` child alive (and one `deliver_webhooks` child, with
the same supervisor): restarted with backoff when it dies, or when it stops making progress, and
stopped when serve exits. The child is a separate process on
purpose: whatever kills it — a bug, a crashed library, the OOM killer — leaves the web server
answering.

Progress is read where /health reads it: the child's WorkerProcess heartbeat, which the worker
writes only after a whole pass of its loop completed (worker/loop.py). The database is already
the one channel between web and worker, so the supervisor and /health cannot disagree, and a
child that is alive but wedged (failing every pass, or hung inside one) is told apart from one
that is merely busy for less than WAZIPER_WORKER_STALL_S. The supervisor names each child
(--worker-id) so it knows which row is its child's.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from instances import worker_registry

logger = logging.getLogger("waziper.supervisor")
MANAGE_PY = Path(__file__).resolve().parents[1] / "manage.py"
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: if serve is killed outright, the worker gets SIGTERM too."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def restart_delay(consecutive_crashes: int, base_s: float = 1.0, cap_s: float = 30.0) -> float:
    """Backoff between restarts: 1, 2, 4 … 30 s; a worker that ran a while starts over at 1 s."""
    return min(cap_s, base_s * 2 ** max(0, consecutive_crashes - 1))


def child_stalled(
    spawned_at: datetime,
    last_heartbeat: datetime | None,
    now: datetime,
    stall_s: float,
    startup_s: float = 0.0,
) -> bool:
    """Has the child made no progress for `stall_s`? Until it has registered (no heartbeat yet)
    it is given `startup_s` from its start if that is longer: starting Django on a busy machine
    is not a stall, but a child that never gets as far as registering is."""
    if last_heartbeat is None:
        return worker_registry.is_stalled(spawned_at, now, max(stall_s, startup_s))
    return worker_registry.is_stalled(max(spawned_at, last_heartbeat), now, stall_s)


def new_child_id() -> str:
    return f"{socket.gethostname()[:40]}-serve{os.getpid()}-{uuid.uuid4().hex[:6]}"


class WorkerSupervisor:
    STABLE_AFTER_S = 60.0
    STOP_GRACE_S = 15.0
    STARTUP_GRACE_S = 30.0

    def __init__(
        self,
        args: list[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        stall_s: float | None = None,
        stop_grace_s: float | None = None,
        command: str = "run_worker",
        id_option: str = "--worker-id",
        last_heartbeat: Callable[[str], datetime | None] = worker_registry.last_heartbeat,
        child_ids: Callable[[], str] = new_child_id,
        name: str = "worker",
    ) -> None:
        # The child is `manage.py <command> <id_option> <id> <args>`; its progress is what
        # `last_heartbeat(id)` reads. `child_ids` names each child (a fixed name lets a new
        # child take over what the one before it left).
        self.command = command
        self.id_option = id_option
        self.last_heartbeat = last_heartbeat
        self.child_ids = child_ids
        self.name = name
        self.args = args or []
        self.env = env
        self.stall_s = stall_s if stall_s is not None else settings.WAZIPER_WORKER_STALL_S
        self.stop_grace_s = stop_grace_s if stop_grace_s is not None else self.STOP_GRACE_S
        # How often the child's heartbeat is read: a stall is acted on within a quarter of it.
        self.check_every_s = min(5.0, self.stall_s / 4)
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.stalls = 0
        self.thread = threading.Thread(target=self._run, name=f"{command}-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _spawn(self, worker_id: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(MANAGE_PY), self.command, self.id_option, worker_id, *self.args],
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            env=self.env if self.env is not None else os.environ.copy(),
        )

    def _run(self) -> None:
        crashes = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            worker_id = self.child_ids()
            self.process = self._spawn(worker_id)
            logger.info("%s process started (pid %d, %s)", self.name, self.process.pid, worker_id)
            stalled = self._watch(self.process, worker_id, timezone.now())
            if self.stopping.is_set():
                break
            crashes = 1 if time.monotonic() - started >= self.STABLE_AFTER_S else crashes + 1
            delay = restart_delay(crashes)
            if stalled:
                logger.error(
                    "❌ %s process made no progress for %.0fs; ended it, restarting in %.0fs "
                    "(web keeps serving)",
                    self.name,
                    self.stall_s,
                    delay,
                )
            else:
                logger.error(
                    "❌ %s process exited with code %s; restarting in %.0fs (web keeps serving)",
                    self.name,
                    self.process.returncode,
                    delay,
                )
            self.stopping.wait(delay)

    def _watch(self, process: subprocess.Popen[bytes], worker_id: str, spawned_at: datetime) -> bool:
        """Wait for the child to exit; end it if it stalls. Returns True if it stalled."""
        while True:
            try:
                process.wait(self.check_every_s)
                return False
            except subprocess.TimeoutExpired:
                pass
            if not self.stopping.is_set() and self._stalled(worker_id, spawned_at):
                self.stalls += 1
                logger.error(
                    "%s %s (pid %d) has made no progress for %.0fs; ending it",
                    self.name,
                    worker_id,
                    process.pid,
                    self.stall_s,
                )
                self._end(process)
                return True

    def _stalled(self, worker_id: str, spawned_at: datetime) -> bool:
        try:
            beat = self.last_heartbeat(worker_id)
        except DatabaseError as exc:
            # The child cannot progress either, but a restart would not mend the database.
            logger.warning("cannot read the %s's heartbeat (%s); not judging it", self.name, exc)
            return False
        finally:
            connection.close()  # this thread reads rarely: hold no connection in between
        return child_stalled(spawned_at, beat, timezone.now(), self.stall_s, self.STARTUP_GRACE_S)

    def _end(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM (the worker releases its leases), SIGKILL if it does not exit in time."""
        if process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(self.stop_grace_s)
        except subprocess.TimeoutExpired:
            logger.error("%s did not stop within %.0fs; killing it", self.name, self.stop_grace_s)
            process.kill()
            process.wait()

    def stop(self) -> None:
        """End the worker and stop restarting it."""
        self.stopping.set()
        process = self.process
        if process is not None:
            self._end(process)
        self.thread.join(timeout=5)
