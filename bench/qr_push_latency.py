"""From the worker writing a QR code to the frame at websocket clients, with 1 and with 500 clients.

    .venv/bin/python -m bench.qr_push_latency [--clients 1,500] [--events 40] [--poll-ms 100]

A real daphne (`waziper_site.asgi:application`) serves a fresh SQLite database (WAL, as in
production). This process plays the worker: it calls the worker's own `store_qr` (row update +
outbox events, one transaction), in another process than daphne, as in production. For each QR
event it times every client from just before the write to the `qr` frame's arrival. Events are
spaced by a random wait so they land at every phase of the relay's poll. It then measures the
relay's database cost per tick: the one query a tick issues, on an outbox of `--outbox` rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (from /proc: robust to a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def setup_django(db_path: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waziper_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_daphne(db_path: Path, port: int, poll_ms: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "WAZIPER_EVENT_POLL_MS": str(poll_ms)}
    env["WAZIPER_LOG_LEVEL"] = "WARNING"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "waziper_site.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    from tests.support.processes import wait_for_http

    wait_for_http(f"http://127.0.0.1:{port}/health", proc, timeout=60)
    return proc


async def run_clients(
    port: int, web_pid: int, instance: Any, token: str, clients: int, events: int
) -> tuple[list[float], list[float], list[float], float]:
    """Open `clients` sockets, write `events` QR codes. Return every (client, event) latency in
    ms, per event the first client's and the last client's (the spread is the fan-out), and the
    web process's CPU milliseconds per event (its relay ticks included)."""
    import websockets

    from instances.actual_state import store_qr

    url = f"ws://127.0.0.1:{port}/ws/instances/{instance.instance_id}/?access_token={token}"
    sockets = []
    for _ in range(clients):
        ws = await websockets.connect(url, origin=f"http://127.0.0.1:{port}", max_queue=None)
        await ws.recv()  # the snapshot
        sockets.append(ws)

    async def first_qr(ws: Any, code: str) -> float:
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "qr" and frame.get("qr") == code:
                return time.perf_counter()

    latencies: list[float] = []
    firsts: list[float] = []
    lasts: list[float] = []
    cpu_before = cpu_seconds(web_pid)
    try:
        for n in range(events):
            await asyncio.sleep(random.uniform(0.05, 0.25))  # land at every phase of the poll
            code = f"2@bench-{n}-{random.getrandbits(64):x},noise,identity,secret"
            waiters = [asyncio.create_task(first_qr(ws, code)) for ws in sockets]
            from django.utils import timezone

            now = timezone.now()
            started = time.perf_counter()
            await asyncio.to_thread(
                store_qr, instance.pk, code, now + timedelta(seconds=60), now, "qr_pending"
            )
            arrived = await asyncio.wait_for(asyncio.gather(*waiters), 30)
            these = [(at - started) * 1000 for at in arrived]
            latencies += these
            firsts.append(min(these))
            lasts.append(max(these))
        cpu_ms = (cpu_seconds(web_pid) - cpu_before) * 1000 / events
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    return latencies, firsts, lasts, cpu_ms


def relay_tick_cost(outbox_rows: int, ticks: int) -> dict[str, float]:
    """The relay's one query per tick, idle (nothing new) and with one new event, on a big outbox."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from instances.models import Instance, InstanceEvent
    from live.relay import fetch_after

    instance = Instance.objects.first()
    have = InstanceEvent.objects.count()
    now = timezone.now()
    batch = [
        InstanceEvent(instance=instance, kind="status", payload={"status": "connecting"}, created_at=now)
        for _ in range(max(0, outbox_rows - have))
    ]
    InstanceEvent.objects.bulk_create(batch, batch_size=5000)
    top = InstanceEvent.objects.order_by("-id").values_list("id", flat=True).first()
    with CaptureQueriesContext(connection) as queries:
        fetch_after(top, 500)
    idle, one_new = [], []
    for _ in range(ticks):
        started = time.perf_counter()
        fetch_after(top, 500)
        idle.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        fetch_after(top - 1, 500)
        one_new.append((time.perf_counter() - started) * 1e6)
    return {
        "queries": len(queries),
        "rows": InstanceEvent.objects.count(),
        "idle_p50_us": statistics.median(idle),
        "idle_p99_us": pct(idle, 99),
        "one_p50_us": statistics.median(one_new),
        "one_p99_us": pct(one_new, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,500", help="comma-separated client counts")
    parser.add_argument("--events", type=int, default=40, help="QR events per client count")
    parser.add_argument("--poll-ms", type=int, default=100, help="WAZIPER_EVENT_POLL_MS of the web process")
    parser.add_argument("--outbox", type=int, default=100_000, help="outbox rows for the tick-cost measure")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="waziper-bench-"))
    db_path = workdir / "bench.sqlite3"
    os.environ["WAZIPER_LOG_DIR"] = str(workdir)
    setup_django(db_path)
    from django.contrib.auth.models import User

    from instances.models import AccessToken
    from instances.service import create_instance
    from tests.support.processes import free_port

    owner = User.objects.create(username="bench")
    token = AccessToken.objects.issue(owner, name="bench")[1]
    instance = create_instance(owner, name="bench", transport="sandbox")
    port = free_port()
    daphne = start_daphne(db_path, port, args.poll_ms, workdir / "daphne.log")
    results = []
    try:
        for clients in (int(c) for c in args.clients.split(",")):
            measured = asyncio.run(run_clients(port, daphne.pid, instance, token, clients, args.events))
            results.append((clients, *measured))
    finally:
        daphne.terminate()
        daphne.wait(timeout=20)
    tick = relay_tick_cost(args.outbox, 1000)

    print(f"QR push latency: worker's store_qr → qr frame at the client (poll {args.poll_ms} ms, SQLite WAL)")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end of the run")
    print(
        f"{'clients':>8} {'events':>7} {'frames':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'first p50':>10} {'last p50':>9} {'web CPU ms/event':>17}"
    )
    for clients, latencies, firsts, lasts, cpu_ms in results:
        print(
            f"{clients:>8} {args.events:>7} {len(latencies):>7} {statistics.median(latencies):>8.1f} "
            f"{pct(latencies, 99):>8.1f} {max(latencies):>8.1f} {statistics.median(firsts):>10.1f} "
            f"{statistics.median(lasts):>9.1f} {cpu_ms:>17.1f}"
        )
    if len(results) == 2:
        (c1, l1, *_), (c2, l2, *_) = results
        print(f"ratio p50 {c2}/{c1} clients: {statistics.median(l2) / statistics.median(l1):.2f}×")
    print(
        f"relay tick: {tick['queries']} query per tick on an outbox of {tick['rows']:,} rows; "
        f"idle tick p50 {tick['idle_p50_us']:.0f} µs / p99 {tick['idle_p99_us']:.0f} µs; "
        f"tick with one new event p50 {tick['one_p50_us']:.0f} µs / p99 {tick['one_p99_us']:.0f} µs"
    )


if __name__ == "__main__":
    main()
