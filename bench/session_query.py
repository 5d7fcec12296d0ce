"""Asking a live session from the API: GET /instances/<id>/groups round trip, against the same
request answered from the database.

    .venv/bin/python -m bench.session_query [--requests 200] [--groups 20] [--participants 25]
                                           [--poll-ms 100]

A real daphne (`waziper_site.asgi:application`) and a real `manage.py run_worker` share a fresh
SQLite database (WAL, as in production). One sandbox instance is linked and connected, with
`--groups` groups of `--participants` participants in its behaviour JSON. Then, interleaved so
both see the same machine:

* round trip: `GET /instances/<id>/groups?refresh=1`: the web writes a query command, the
  worker takes it on its tick, the sandbox session answers, the worker writes the answer, the
  waiting request sees it and stores the list in the cache;
* floor: `GET /instances/<id>/groups` with the cache warm: the same answer (same size), from the
  database alone.

Requests are spaced by a random wait so they land at every phase of the worker's tick and of
the web's polling. The aim: p99 of the round trip ≤ 3 × p99 of the floor + WAZIPER_EVENT_POLL_MS.
Before the requests, the worker's CPU use while idle (its ticks and its looks for commands).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def setup_django(db_path: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waziper_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def behaviour(groups: int, participants: int) -> dict[str, Any]:
    return {
        "linked": True,
        "groups": [
            {
                "id": f"1203630000{g:08d}@g.us",
                "name": f"Group {g}",
                "description": "A group for the benchmark",
                "participants": [f"6282{g:04d}{p:05d}" for p in range(participants)],
            }
            for g in range(groups)
        ],
    }


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


def wait_connected(instance_pk: int, timeout: float = 60) -> None:
    from instances.models import Instance

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Instance.objects.get(pk=instance_pk).status == Instance.Status.CONNECTED:
            return
        time.sleep(0.1)
    raise SystemExit("the instance did not connect: see the worker's log")


def measure(
    client: httpx.Client, url: str, requests: int
) -> tuple[list[float], list[float], int, list[tuple[float, float]]]:
    """Interleaved round trips (refresh=1) and floor reads (cache warm); returns both in ms, the
    size of one answer in bytes, and each round trip's start and end (unix seconds)."""
    trips: list[float] = []
    floor: list[float] = []
    spans: list[tuple[float, float]] = []
    size = 0
    for n in range(requests * 2):
        time.sleep(random.uniform(0, 0.1))  # every phase of the worker's tick and the web's poll
        refresh = n % 2 == 0
        wall = time.time()
        started = time.perf_counter()
        response = client.get(url, params={"refresh": "1"} if refresh else {})
        took = (time.perf_counter() - started) * 1000
        if refresh:
            spans.append((wall, wall + took / 1000))
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: {response.status_code} {response.text[:300]}")
        data = response.json()["data"]
        if data["cached"] is refresh:
            raise SystemExit(f"expected cached={not refresh}, got {data['cached']}")
        size = len(response.content)
        (trips if refresh else floor).append(took)
    return trips, floor, size, spans


def breakdown(spans: list[tuple[float, float]]) -> dict[str, list[float]]:
    """Where each round trip's time went, from its command row: from the request's start to the
    start of the worker tick that took and answered it (the worker stamps both with its tick's
    time), and from then to the response's end (ms)."""
    from instances.models import InstanceCommand

    rows = list(
        InstanceCommand.objects.filter(kind="query").order_by("-pk").values_list("taken_at", "finished_at")
    )[: len(spans)][::-1]
    parts: dict[str, list[float]] = {"to the worker's tick": [], "tick to the response": []}
    for (start, end), (taken, _finished) in zip(spans, rows, strict=True):
        parts["to the worker's tick"].append((taken.timestamp() - start) * 1000)
        parts["tick to the response"].append((end - taken.timestamp()) * 1000)
    return parts


def worker_cpu_share(pid: int, seconds: float) -> float:
    """The worker's CPU use while it holds the connected instance and nobody asks anything
    (its ticks and its looks for new commands), as a share of one CPU."""
    from bench.qr_push_latency import cpu_seconds

    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind")
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--participants", type=int, default=25, help="per group")
    parser.add_argument("--poll-ms", type=int, default=100, help="WAZIPER_EVENT_POLL_MS of both processes")
    parser.add_argument("--idle-s", type=float, default=20, help="how long to measure the idle worker's CPU")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="waziper-bench-"))
    db_path = workdir / "bench.sqlite3"
    os.environ["WAZIPER_LOG_DIR"] = str(workdir)
    setup_django(db_path)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.contrib.auth.models import User

    from instances.models import AccessToken
    from instances.service import create_instance, request_running
    from tests.support.processes import free_port, wait_for_http

    owner = User.objects.create(username="bench")
    token = AccessToken.objects.issue(owner, name="bench")[1]
    instance = create_instance(
        owner, name="bench", transport="sandbox", sandbox=behaviour(args.groups, args.participants)
    )
    request_running(instance)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "WAZIPER_EVENT_POLL_MS": str(args.poll_ms),
        "WAZIPER_GROUPS_CACHE_S": "3600",
        "WAZIPER_THROTTLE_RATE": "100000/min",
        "WAZIPER_LOG_LEVEL": "WARNING",
        "WAZIPER_SESSIONS_DIR": str(workdir / "sessions"),
    }
    port = free_port()
    web = start(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "waziper_site.asgi:application"],
        env,
        workdir / "daphne.log",
    )
    worker = start([sys.executable, "manage.py", "run_worker"], env, workdir / "worker.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", web, timeout=60)
        wait_connected(instance.pk)
        time.sleep(2)  # past the connect's own work
        idle_cpu = worker_cpu_share(worker.pid, args.idle_s)
        url = f"http://127.0.0.1:{port}/instances/{instance.instance_id}/groups"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            measure(client, url, 10)  # warm up: connections, caches, the first command
            trips, floor, size, spans = measure(client, url, args.requests)
    finally:
        for proc in (web, worker):
            proc.terminate()
        for proc in (web, worker):
            proc.wait(timeout=20)

    aim = 3 * pct(floor, 99) + args.poll_ms
    print(
        f"GET /instances/<id>/groups: {args.groups} groups × {args.participants} participants "
        f"({size:,} bytes), poll {args.poll_ms} ms, SQLite WAL, daphne + run_worker"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end of the run")
    print(f"{'':<34} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, values in (
        ("round trip (?refresh=1, session)", trips),
        ("floor (cache warm, database)", floor),
    ):
        print(
            f"{name:<34} {len(values):>5} {statistics.median(values):>8.1f} {pct(values, 90):>8.1f} "
            f"{pct(values, 99):>8.1f} {max(values):>8.1f}"
        )
    for name, values in breakdown(spans).items():
        print(
            f"  round trip, {name:<24} {statistics.median(values):>8.1f} {pct(values, 90):>8.1f} "
            f"{pct(values, 99):>8.1f} {max(values):>8.1f}"
        )
    print(f"idle worker (one connected instance): {idle_cpu * 100:.1f} % of a CPU")
    verdict = "met" if pct(trips, 99) <= aim else "MISSED"
    print(f"aim: round-trip p99 ≤ 3 × floor p99 + poll = {aim:.1f} ms: {verdict}")


if __name__ == "__main__":
    main()
