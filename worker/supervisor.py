"""`manage.py serve` keeps one `run_worker` child alive: restarted with backoff when it dies,
stopped when serve exits. The child is a separate process on purpose (DESIGN "Shape"): whatever
kills it — a bug, a crashed library, the OOM killer — leaves the web server answering."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

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


class WorkerSupervisor:
    STABLE_AFTER_S = 60.0
    STOP_GRACE_S = 15.0

    def __init__(self, args: list[str] | None = None) -> None:
        self.args = args or []
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.restarts = 0
        self.thread = threading.Thread(target=self._run, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(MANAGE_PY), "run_worker", *self.args],
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            env=os.environ.copy(),
        )

    def _run(self) -> None:
        crashes = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            self.process = self._spawn()
            logger.info("worker process started (pid %d)", self.process.pid)
            code = self.process.wait()
            if self.stopping.is_set():
                break
            crashes = 1 if time.monotonic() - started >= self.STABLE_AFTER_S else crashes + 1
            delay = restart_delay(crashes)
            self.restarts += 1
            logger.error(
                "❌ worker process exited with code %s; restarting in %.0fs (web keeps serving)", code, delay
            )
            self.stopping.wait(delay)

    def stop(self) -> None:
        """SIGTERM the worker (it releases its leases), SIGKILL it if it does not exit in time."""
        self.stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self.STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                logger.error("worker did not stop within %.0fs; killing it", self.STOP_GRACE_S)
                process.kill()
                process.wait()
        self.thread.join(timeout=5)
