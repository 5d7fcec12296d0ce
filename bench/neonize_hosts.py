"""neonize in the worker's process vs. neonize in session hosts, side by side, on loopback.

    .venv/bin/python -m bench.neonize_hosts [--attempts 1000] [--clients 20] [--naive-runs 3]

(a) the naive design: N neonize clients in ONE process retrying a refusing proxy, run in a child
    process (it may die of a Go fatal error, which is reported as a crash): with the N dials of
    each round concurrent (what a multi-instance server does; it goes on to --race-attempts,
    since the crash is a race), and serialized (no race, so the leak shows over all attempts);
(b) ours: the same attempts through NeonizeSession, each a fresh session host, N in flight,
    measured from this process, which plays the worker;
plus one host's start time and memory (PSS from /proc/<pid>/smaps_rollup).

Prints a markdown table with ratios. Nothing leaves 127.0.0.1. Takes ~0.35 s per attempt of
(b) on two cores (each host imports neonize).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.faultkit import FaultProxy
from worker.sessionhost import protocol as p
from worker.transports import base
from worker.transports.base import SessionSpec
from worker.transports.host_process import REAPER, HostProcess
from worker.transports.neonize import NeonizeSession

ROOT = Path(__file__).resolve().parents[1]


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mb(pid: str | int = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def pss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024


# -- (a) the naive design, in a child process ---------------------------------------------------


async def naive_child(mode: str, attempts: int, clients: int, proxy: str) -> None:
    from neonize._binder import ProxySettings
    from neonize.aioze.client import NewAClient

    store = tempfile.mkdtemp(prefix="naive-neonize-")
    cs = [NewAClient(os.path.join(store, f"c{i}.sqlite3"), uuid=f"c{i}") for i in range(clients)]

    async def dial(client: Any) -> None:
        task = await client.connect(ProxySettings(proxy_address=proxy))
        try:
            await asyncio.wait_for(asyncio.shield(task), 10)
        except Exception:
            pass  # the refusal is the expected outcome

    def report(done: int, started: float) -> None:
        line = {"attempts": done, "fds": fds(), "rss_mb": rss_mb(), "elapsed": time.monotonic() - started}
        print(json.dumps(line), flush=True)

    started, done = time.monotonic(), 0
    report(0, started)
    while done < attempts:
        batch = cs[: attempts - done]
        if mode == "concurrent":
            await asyncio.gather(*(dial(c) for c in batch))
        else:
            for c in batch:
                await dial(c)
        done += len(batch)
        report(done, started)
    os._exit(0)  # interpreter shutdown would wait on threads parked in Go


def run_naive(mode: str, attempts: int, clients: int, proxy: str, at: int) -> dict[str, Any]:
    """Run (a) in a child; fds and RSS as they were after `at` attempts (or when it died)."""
    argv = [sys.executable, "-m", "bench.neonize_hosts", "--naive-child", mode, "--proxy", proxy]
    argv += ["--attempts", str(attempts), "--clients", str(clients)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    fatal = next((ln for ln in proc.stderr.splitlines() if ln.startswith(("fatal error", "panic:"))), "")
    first, last = lines[0], lines[-1]
    then = [line for line in lines if line["attempts"] <= at][-1]
    return {
        "crashed": proc.returncode != 0,
        "why": fatal or (f"exit code {proc.returncode}" if proc.returncode else ""),
        "attempts": last["attempts"],
        "fds": (first["fds"], then["fds"]),
        "rss": (first["rss_mb"], then["rss_mb"]),
        "rate": last["attempts"] / last["elapsed"] if last["elapsed"] else 0.0,
    }


# -- (b) ours: session hosts ---------------------------------------------------------------------


def run_sessions(total: int, in_flight: int, proxy: str, store: Path) -> tuple[int, int]:
    """`total` attempts, `in_flight` at a time, each in a fresh host; (failed, crashed) counts."""
    now = datetime.now(UTC)
    started = failed = crashed = 0

    def fresh() -> NeonizeSession:
        nonlocal started
        started += 1
        session = NeonizeSession(SessionSpec(started, f"B{started}", proxy, str(store / f"s{started}")))
        session.connect(now)
        return session

    slots = [fresh() for _ in range(min(in_flight, total))]
    while slots:
        still = []
        for session in slots:
            kinds = {e.kind for e in session.poll(now)}
            if not kinds & {base.CONNECT_FAILED, base.SESSION_CRASHED}:
                still.append(session)
                continue
            failed += 1
            crashed += base.SESSION_CRASHED in kinds
            session.close()
            if started < total:
                still.append(fresh())
        slots = still
        time.sleep(0.005)
    return failed, crashed


def run_ours(attempts: int, clients: int, proxy: str) -> dict[str, Any]:
    store = Path(tempfile.mkdtemp(prefix="hosts-neonize-"))
    run_sessions(clients, clients, proxy, store)  # warm-up: imports, the reaper thread
    REAPER.wait_idle(10)
    before = (fds(), threading.active_count(), rss_mb())
    cpu = os.times()
    t0 = time.monotonic()
    failed, crashed = run_sessions(attempts, clients, proxy, store)
    elapsed = time.monotonic() - t0
    REAPER.wait_idle(10)
    end = os.times()
    host_cpu = end.children_user + end.children_system - cpu.children_user - cpu.children_system
    after = (fds(), threading.active_count(), rss_mb())
    return {
        "crashed": crashed,
        "attempts": failed,
        "fds": (before[0], after[0]),
        "threads": (before[1], after[1]),
        "rss": (before[2], after[2]),
        "rate": failed / elapsed,
        "cpu_per_attempt": host_cpu / max(1, failed),
    }


def host_footprint(proxy: str, samples: int = 5) -> dict[str, float]:
    """Spawn -> ready time, and PSS/RSS of an idle host and of one after a failed dial."""
    starts, idle_pss, idle_rss, dialed_pss = [], [], [], []
    store = tempfile.mkdtemp(prefix="host-footprint-")
    for i in range(samples):
        t0 = time.monotonic()
        host = HostProcess()
        lines: list[bytes] = []
        while not any(b'"ready"' in line for line in lines):
            lines += host.read_lines()
            time.sleep(0.002)
        starts.append(time.monotonic() - t0)
        idle_pss.append(pss_mb(host.pid))
        idle_rss.append(rss_mb(host.pid))
        host.write(p.command(p.CONNECT, "F", 1, store=os.path.join(store, str(i)), proxy=proxy))
        while not any(b"connect_failed" in line for line in lines):
            lines += host.read_lines()
            time.sleep(0.002)
        dialed_pss.append(pss_mb(host.pid))
        host.close()
    REAPER.wait_idle(10)
    med = statistics.median
    return {"start_s": med(starts), "pss": med(idle_pss), "rss": med(idle_rss), "pss_dialed": med(dialed_pss)}


# -- the table ----------------------------------------------------------------------------------


def delta(pair: tuple[float, float], fmt: str = "{:.0f}") -> str:
    a, b = pair
    return f"{fmt.format(a)} → {fmt.format(b)} ({'+' if b >= a else ''}{fmt.format(b - a)})"


def table(args: argparse.Namespace, races: list[dict], serial: dict, ours: dict, host: dict) -> str:
    died = [r for r in races if r["crashed"]]
    race_crash = f"{len(died)} of {len(races)} runs died"
    if died:
        race_crash += f" (after {', '.join(str(r['attempts']) for r in died)} attempts): `{died[0]['why']}`"
    first = races[0]
    leak_naive, leak_ours = serial["fds"][1] - serial["fds"][0], ours["fds"][1] - ours["fds"][0]
    rss_naive, rss_ours = serial["rss"][1] - serial["rss"][0], ours["rss"][1] - ours["rss"][0]
    n = args.attempts
    rows = [
        "| | (a) one process, concurrent | (a) one process, serialized | (b) session hosts | (b) vs (a) |",
        "|---|---|---|---|---|",
        (
            f"| process crashes (up to {args.race_attempts} / {n} / {n} attempts) | {race_crash} | "
            f"{'died: ' + serial['why'] if serial['crashed'] else 'none'} | "
            f"worker: none; hosts crashed: {ours['crashed']} | the server never at risk |"
        ),
        (
            f"| server fds after {n} attempts | {delta(first['fds'])} | {delta(serial['fds'])} | "
            f"{delta(ours['fds'])} | +{leak_ours} vs +{leak_naive} |"
        ),
        (
            f"| server RSS after {n} attempts, MB | {delta(first['rss'])} | {delta(serial['rss'])} | "
            f"{delta(ours['rss'], '{:.1f}')} | +{rss_ours:.1f} vs +{rss_naive:.0f} MB |"
        ),
        f"| server threads after {n} attempts | | | {delta(ours['threads'])} | |",
        (
            f"| attempts/s | {first['rate']:.0f} | {serial['rate']:.0f} | {ours['rate']:.2f} | "
            f"{ours['rate'] / serial['rate']:.3f}× |"
        ),
        f"| CPU per attempt | | | {ours['cpu_per_attempt']:.2f} s (host start) | |",
        (
            f"| one host | | | ready {host['start_s']:.2f} s after spawn; PSS {host['pss']:.0f} MB idle, "
            f"{host['pss_dialed']:.0f} MB after a dial (RSS {host['rss']:.0f} MB) | |"
        ),
    ]
    cmd = (
        f".venv/bin/python -m bench.neonize_hosts --attempts {n} --clients {args.clients} "
        f"--naive-runs {args.naive_runs} --race-attempts {args.race_attempts}"
    )
    return "\n".join([f"`{cmd}` ({os.cpu_count()} CPUs)", "", *rows])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.neonize_hosts", description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--naive-runs", type=int, default=3, help="runs of the racing naive design")
    parser.add_argument(
        "--race-attempts",
        type=int,
        default=4000,
        help="the racing runs go on to this many (200 rounds of 20)",
    )
    parser.add_argument("--naive-child", choices=("concurrent", "serial"), help=argparse.SUPPRESS)
    parser.add_argument("--proxy", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_child:
        asyncio.run(naive_child(args.naive_child, args.attempts, args.clients, args.proxy))
        return
    with FaultProxy("refuse") as proxy:
        say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
        n, url = args.attempts, proxy.url
        say(f"(a) naive, concurrent: {args.naive_runs} run(s) of up to {args.race_attempts} attempts")
        races = [
            run_naive("concurrent", args.race_attempts, args.clients, url, n) for _ in range(args.naive_runs)
        ]
        say(f"(a) naive, serialized: {n} attempts")
        serial = run_naive("serial", n, args.clients, url, n)
        say("one host's start time and memory")
        host = host_footprint(proxy.url)
        say(f"(b) session hosts: {args.attempts} attempts, {args.clients} in flight")
        ours = run_ours(args.attempts, args.clients, proxy.url)
    print(table(args, races, serial, ours, host))


if __name__ == "__main__":
    main()
