"""One worker holding N connected sandbox instances: memory per instance, cost of a reconcile pass.

    .venv/bin/python -m bench.worker_scale [--sizes 10,100,1000] [--passes 50]

Each size runs in a fresh process on a fresh SQLite database (WAL, as in production). For each N
it reports the worker process's RSS growth per held instance and the wall time of one steady
`run_once` pass (everything connected, nothing due), next to a floor measured in the same run:
a bare loop that issues the same per-tick queries the worker must issue (lease scan, desired-
state check, command poll) without any per-instance work. The ratio says what our per-instance
bookkeeping costs on top of the database round trips.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(n: int, passes: int) -> dict[str, float]:
    """Runs inside a child process whose DATABASE_URL points at a fresh database."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    from instances.models import Instance, InstanceCommand
    from instances.service import create_instance, request_running
    from kernel.clock import FakeClock
    from worker.loop import Worker
    from worker.transports.sandbox import SandboxTransport

    owner = User.objects.create(username="bench", is_superuser=True)  # no instance limit
    for i in range(n):
        request_running(
            create_instance(owner, name=f"bench-{i}", transport="sandbox", sandbox={"linked": True})
        )
    clock = FakeClock()
    worker = Worker(worker_id="bench", capacity=n, clock=clock, transports={"sandbox": SandboxTransport()})
    worker.register(clock.now())
    worker.periodic.last_run["cleanup"] = clock.now()
    before = rss_kb()
    while Instance.objects.filter(status="connected").count() < n:
        worker.run_once(clock.now())
        clock.advance(0.3)
    after = rss_kb()

    def timed(fn) -> float:
        samples = []
        for _ in range(passes):
            clock.advance(0.3)  # past the fast-step interval, so every step runs each pass
            start = time.perf_counter()
            fn(clock.now())
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    ours = timed(worker.run_once)

    def floor(now) -> None:
        list(Instance.objects.filter(desired_state="running", worker_id="").values_list("pk")[:1])
        list(Instance.objects.filter(worker_id="bench").exclude(desired_state="running").values_list("pk"))
        list(InstanceCommand.objects.filter(finished_at__isnull=True, instance_id__in=list(worker.leased)))

    base = timed(floor)
    return {
        "n": n,
        "rss_per_instance_kb": (after - before) / n,
        "pass_ms": ours * 1000,
        "floor_ms": base * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--passes", type=int, default=50)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.passes)))
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "waziper_site.settings",
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "WAZIPER_SESSIONS_DIR": f"{tmp}/sessions",
                "WAZIPER_LOG_LEVEL": "ERROR",
            }
            out = subprocess.run(
                [sys.executable, "-m", "bench.worker_scale", "--child", str(n), "--passes", str(args.passes)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'N':>6} {'RSS/instance':>13} {'pass (ours)':>12} {'floor':>9} {'ours/floor':>11} {'pass/N':>10}")
    for r in rows:
        print(
            f"{r['n']:>6} {r['rss_per_instance_kb']:>10.1f} KB "
            f"{r['pass_ms']:>9.2f} ms {r['floor_ms']:>6.2f} ms "
            f"{r['pass_ms'] / r['floor_ms']:>10.2f}x {r['pass_ms'] * 1000 / r['n']:>7.1f} µs"
        )


if __name__ == "__main__":
    main()
