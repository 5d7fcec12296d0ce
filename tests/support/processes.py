"""Helpers for tests that start real processes on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Poll `url` until it answers (any HTTP status), failing early if `proc` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"process exited with {proc.returncode} before {url} answered:\n{out}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition") -> None:
    """Poll `predicate` (real time: for real child processes only) until it is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout}s")


def process_state(pid: int) -> str:
    """A process's state letter from /proc (Z: a zombie), or "" once it no longer exists. The
    process may be reaped between opening its stat file and reading it (ESRCH)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return ""


def child_env(settings, **overrides: str) -> dict[str, str]:
    """Environment for a child process using this test's database and session directory."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},  # tests' own flag
        "DATABASE_URL": _database_url(settings),
        "WAZIPER_SESSIONS_DIR": settings.WAZIPER_SESSIONS_DIR,
        "WAZIPER_LOG_LEVEL": "INFO",
        "WAZIPER_HEALTH_CACHE_S": "0",
    }
    env.update(overrides)
    return env


def _database_url(settings) -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def manage_py(
    settings: Any, *args: str, output: IO[str] | int = subprocess.PIPE, **env: str
) -> subprocess.Popen:
    """`manage.py ARGS…` as a real child process on this test's database (stdout+stderr together)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=child_env(settings, **env),
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )


def start_web(settings: Any, command: list[str], port: int, output: Path, **env: str) -> subprocess.Popen:
    """A web process (`command` with `{port}` filled in) on this test's database, its stdout and
    stderr going to the file `output` (never a pipe nobody reads: a full pipe stalls it)."""
    args = [arg.replace("{port}", str(port)) for arg in command]
    with open(output, "w") as out:
        return subprocess.Popen(args, cwd=ROOT, env=child_env(settings, **env), stdout=out, stderr=out)


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# The two ways of running the web side: the README's scale-out command and the embedded default.
DAPHNE = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "waziper_site.asgi:application"]
SERVE = [sys.executable, "manage.py", "serve", "--port", "{port}", "--no-worker"]
