"""Run a command against a private, throwaway PostgreSQL cluster on loopback.

    python -m tests.support.pgcluster -- python -m pytest -m dbengines

Uses the server binaries of Debian's postgresql package (/usr/lib/postgresql/*/bin); as root it
runs them as the `postgres` user, which PostgreSQL requires. The cluster lives in a temporary
directory, listens on a free port on 127.0.0.1 only, and is removed afterwards. Without the
binaries it says so and exits 0, unless WAZIPER_REQUIRE_POSTGRES=1 (CI), where that is a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def find_bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return os.path.dirname(candidates[0]) if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster and yield its DATABASE_URL; stop and delete it on exit."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    root = tempfile.mkdtemp(prefix="waziper-pg-")
    prefix: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = os.path.join(root, "data"), _free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True}
    try:
        subprocess.run(
            [*prefix, f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"], **quiet
        )
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(
            [
                *prefix,
                f"{bindir}/pg_ctl",
                "-D",
                data,
                "-o",
                options,
                "-l",
                os.path.join(root, "log"),
                "-w",
                "start",
            ],
            **quiet,
        )
        yield f"postgres://postgres@127.0.0.1:{port}/waziper"
    finally:
        subprocess.run(
            [*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m tests.support.pgcluster -- COMMAND…", file=sys.stderr)
        return 2
    required = os.environ.get("WAZIPER_REQUIRE_POSTGRES") == "1"
    try:
        with cluster() as url:
            print(f"pgcluster: PostgreSQL on {url}", flush=True)
            return subprocess.run(argv, env={**os.environ, "DATABASE_URL": url}).returncode
    except FileNotFoundError as exc:
        print(
            f"pgcluster: {exc}; the PostgreSQL run is {'REQUIRED' if required else 'skipped'}",
            file=sys.stderr,
        )
        return 1 if required else 0
    except subprocess.CalledProcessError as exc:
        print(
            f"pgcluster: could not start PostgreSQL: {exc.stderr.decode(errors='replace')}", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
