"""API throughput on daphne over loopback: /health at 10 vs 10,000 instances, /instance vs a floor.

    .venv/bin/python -m bench.api_throughput [--requests 2000] [--concurrency 8] [--big 10000]

Two daphne processes (as `manage.py serve --no-worker` runs them), each on its own fresh SQLite
database in WAL mode: one with 10 instances, one with `--big`. Their URLconf is this module: the
production URLs plus two floors, a minimal Django view (`/bench/minimal`, a JsonResponse through
the same middleware: what daphne + Django cost before any of our code runs) and the same view
with one query (what opening a database connection adds). The load comes from `--concurrency`
client threads on keep-alive connections. All eight scenarios are run in interleaved rounds
(after a warm-up), so a change in background load hits every scenario alike and the ratios stay
fair on a busy machine.

Printed side by side: requests/s, p50, p99 and the server process's CPU time per request (from
/proc: the steadiest figure when other work shares the machine) of
  * GET /health with 10 instances and with `--big` instances (its cost must not grow with the
    fleet: the ratio should stay near 1),
  * GET /instance (token auth, scoped lookup, breaker read, serializer) next to the minimal view
    and the minimal view plus one query (a request that opens a database connection), at both
    sizes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MINIMAL_PATH = "/bench/minimal"
MINIMAL_DB_PATH = "/bench/minimal-db"


# --- the server's side: this module is its URLconf ------------------------------------------------
def __getattr__(name: str) -> Any:
    # Built on first use (PEP 562): the driver process imports this module without Django set up.
    if name == "urlpatterns":
        from django.contrib.auth.models import User
        from django.http import JsonResponse
        from django.urls import path

        from waziper_site.urls import urlpatterns as production

        def minimal(request: Any) -> JsonResponse:
            return JsonResponse({"status": "success", "message": "ok"})

        def minimal_db(request: Any) -> JsonResponse:
            # One indexed read: a request that touches the database pays for opening a
            # connection (CONN_MAX_AGE=0, and daphne runs each sync request in its own thread).
            return JsonResponse({"status": "success", "message": User.objects.filter(pk=1).exists()})

        return [
            path(MINIMAL_PATH.lstrip("/"), minimal),
            path(MINIMAL_DB_PATH.lstrip("/"), minimal_db),
            *production,
        ]
    raise AttributeError(name)


def serve(port: int) -> None:
    """The server process: the production settings, with this module as the URLconf."""
    import django
    from django.conf import settings

    settings.ROOT_URLCONF = "bench.api_throughput"
    django.setup()
    # daphne.server installs Twisted's asyncio reactor on import; it must come first.
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server

    from waziper_site.asgi import application

    Server(
        application=application,
        endpoints=build_endpoint_description_strings(host="127.0.0.1", port=port),
        signal_handlers=True,
        verbosity=0,
    ).run()


# --- the driver's side ----------------------------------------------------------------------------
def seed(total: int) -> dict[str, str]:
    """Runs in a child process on one server's database: `total` instances in a realistic mix
    of states; returns the caller's token and one connected instance's id."""
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.utils import timezone

    from breaker.models import BreakerState, FailureEvent
    from instances.models import AccessToken, Instance

    owner = User.objects.create(username="bench")
    now = timezone.now()
    statuses = ["connected", "connected", "connecting", "qr_pending", "breaker_open", "disconnected"]
    new = Instance.objects.bulk_create(
        (
            Instance(
                owner=owner,
                name=f"bench-{i}",
                transport="sandbox",
                desired_state="running",
                status=statuses[i % len(statuses)],
                retry_attempts=i % 4,
            )
            for i in range(total)
        ),
        batch_size=1000,
    )
    BreakerState.objects.bulk_create(
        (
            BreakerState(instance=inst, state="open" if inst.status == "breaker_open" else "closed")
            for inst in new
        ),
        batch_size=1000,
    )
    FailureEvent.objects.bulk_create(
        (
            FailureEvent(instance=inst, kind="connect_failed", at=now - timedelta(seconds=5))
            for inst in new[::3]
        ),
        batch_size=1000,
    )
    _, token = AccessToken.objects.issue(owner, name="bench")
    first = Instance.objects.filter(status="connected").order_by("pk").first()
    return {"token": token, "instance_id": first.instance_id}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (steady on a busy machine)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Scenario:
    name: str
    size: int
    port: int
    pid: int
    path: str
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu * 1000 / len(self.latencies)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def run_round(scenario: Scenario, per_client: int, concurrency: int, record: bool) -> None:
    """`per_client` GETs from each of `concurrency` threads, each on one keep-alive connection."""
    lock = threading.Lock()
    failures: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", scenario.port, timeout=60)
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            conn.request("GET", scenario.path)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                failures.append(f"{scenario.name}: HTTP {response.status}")
                break
        conn.close()
        with lock:
            if record:
                scenario.latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    cpu_before = cpu_seconds(scenario.pid)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(failures[0])
    if record:
        scenario.elapsed += time.perf_counter() - started
        scenario.server_cpu += cpu_seconds(scenario.pid) - cpu_before


def start_server(tmp: str, label: str, size: int, template: str) -> tuple[subprocess.Popen, int, dict]:
    db = f"{tmp}/{label}.sqlite3"
    shutil.copyfile(template, db)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    out = subprocess.run(
        [sys.executable, "-m", "bench.api_throughput", "--seed", str(size)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ids = json.loads(out.strip().splitlines()[-1])
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.api_throughput", "--serve", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(port, proc)
    return proc, port, ids


def wait_until_up(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", MINIMAL_PATH)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not answer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drive(args: argparse.Namespace, tmp: str) -> list[Scenario]:
    template = f"{tmp}/template.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{template}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    servers = []
    try:
        scenarios: list[Scenario] = []
        for label, size in (("small", args.small), ("big", args.big)):
            proc, port, ids = start_server(tmp, label, size, template)
            servers.append(proc)
            instance = f"/instance?access_token={ids['token']}&instance_id={ids['instance_id']}"
            for name, path in (
                ("GET /health", "/health"),
                ("GET /instance", instance),
                ("minimal view", MINIMAL_PATH),
                ("minimal view + 1 query", MINIMAL_DB_PATH),
            ):
                scenarios.append(Scenario(name, size, port, proc.pid, path))
        per_client = max(1, args.requests // args.rounds // args.concurrency)
        for scenario in scenarios:
            run_round(scenario, max(5, per_client // 2), args.concurrency, record=False)  # warm-up
        for _ in range(args.rounds):
            for scenario in scenarios:
                run_round(scenario, per_client, args.concurrency, record=True)
        return scenarios
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=30)


def report(scenarios: list[Scenario], small: int, big: int) -> str:
    by = {(s.name, s.size): s for s in scenarios}
    lines = [
        "| scenario | instances | requests/s | p50 ms | p99 ms | server CPU per request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in scenarios:
        p50, p99, cpu = s.percentile_ms(0.5), s.percentile_ms(0.99), s.cpu_ms_per_request
        lines.append(f"| {s.name} | {s.size:,} | {s.rps:,.0f} | {p50:.1f} | {p99:.1f} | {cpu:.2f} ms |")
    h_small, h_big = by[("GET /health", small)], by[("GET /health", big)]
    lines += [
        "",
        f"/health, {big:,} vs {small} instances: requests/s ×{h_big.rps / h_small.rps:.2f}, "
        f"p50 ×{h_big.percentile_ms(0.5) / h_small.percentile_ms(0.5):.2f}, "
        f"p99 ×{h_big.percentile_ms(0.99) / h_small.percentile_ms(0.99):.2f}, "
        f"CPU per request ×{h_big.cpu_ms_per_request / h_small.cpu_ms_per_request:.2f}",
    ]
    for size in (small, big):
        inst = by[("GET /instance", size)]
        for floor_name in ("minimal view", "minimal view + 1 query"):
            floor = by[(floor_name, size)]
            lines.append(
                f"/instance vs {floor_name}, {size:,} instances: requests/s ×{inst.rps / floor.rps:.2f}, "
                f"p50 ×{inst.percentile_ms(0.5) / floor.percentile_ms(0.5):.2f}, "
                f"CPU per request ×{inst.cpu_ms_per_request / floor.cpu_ms_per_request:.2f}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per scenario, after the warm-up")
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds the requests are split into"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    if args.seed is not None:
        print(json.dumps(seed(args.seed)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "waziper_site.settings",
                "DJANGO_SECRET_KEY": "bench-only-" + "x" * 40,
                "WAZIPER_SESSIONS_DIR": f"{tmp}/sessions",
                "WAZIPER_LOG_DIR": f"{tmp}/logs",
                "WAZIPER_LOG_LEVEL": "ERROR",
                # The bench measures the views, not the per-token rate limit.
                "WAZIPER_THROTTLE_RATE": "100000000/s",
            }
        )
        started = time.perf_counter()
        scenarios = drive(args, tmp)
        print(report(scenarios, args.small, args.big))
        print(
            f"\n{len(scenarios[0].latencies)} requests per scenario in {args.rounds} interleaved rounds, "
            f"{args.concurrency} keep-alive clients, {time.perf_counter() - started:.0f} s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )


if __name__ == "__main__":
    main()
