"""Session hosts: one spawned host per session (the design before the fork server) beside
several sessions per forked host (today's default), then neonize in one process for reference.

    .venv/bin/python -m bench.neonize_hosts [--sessions 100] [--per-host 10] [--attempts 300]
    .venv/bin/python -m bench.neonize_hosts --naive [--attempts 1000] [--clients 20] [--naive-runs 3]

Default run, both designs in one process that plays the worker, through NeonizeTransport:
* memory: `--sessions` sessions held open, each dialing a loopback proxy that accepts and never
  answers (faultkit "hang"; WhatsApp is not reachable here); the total PSS of every host
  process (and of the fork server) divided by the sessions;
* CPU per host start: `--starts` hosts started one after another, each host's own CPU time
  (/proc/<pid>/stat) when it says `ready`; the fork server's one-time preload apart;
* attempts per second, and host CPU per attempt, with every dial refused (faultkit "refuse"),
  `--clients` sessions retrying at once until `--attempts`;
* sessions lost to one Go crash: a session named in WAZIPER_HOST_TEST_GO_PANIC connects and its
  host's Go runtime panics (a nil client: Go's own fatal panic, the same death as
  `concurrent map writes`); it is placed as the last session of a full host, the worst case;
* sessions lost to one hung dial: one held session is let go mid-dial, as the worker does at
  WAZIPER_CONNECT_TIMEOUT; the others are watched for 3 s and the mates on its host pinged.

`--naive`: the earlier comparison: N neonize clients in ONE process retrying a refusing proxy (in
a child process, which may die of a Go fatal error), concurrent and serialized, against the same
attempts through session hosts, a fresh spawned host per attempt. Nothing leaves 127.0.0.1.
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
from worker.sessionhost.main import TEST_GO_PANIC_ENV
from worker.transports import base
from worker.transports.base import SessionSpec
from worker.transports.host_pool import Launcher
from worker.transports.host_process import HOST_ARGV, REAPER, HostProcess
from worker.transports.neonize import NeonizeSession, NeonizeTransport

ROOT = Path(__file__).resolve().parents[1]


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mb(pid: str | int = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def pss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024


TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int, *, children: bool = False) -> float:
    """A process's CPU time (user + system), or that of its children it has waited for."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    first = 13 if children else 11  # utime, stime: fields 14-15; cutime, cstime: 16-17
    return (int(fields[first]) + int(fields[first + 1])) / TICK


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


def one_host_per_attempt() -> NeonizeTransport:
    """The design before the fork server: a host spawned for each attempt."""
    return NeonizeTransport(sessions_per_host=1, recycle_after=1, launcher=Launcher(fork_server=False))


def run_sessions(
    total: int, in_flight: int, proxy: str, store: Path, transport: NeonizeTransport | None = None
) -> tuple[int, int]:
    """`total` attempts, `in_flight` at a time; (failed, crashed) counts."""
    now = datetime.now(UTC)
    started = failed = crashed = 0
    transport = transport or one_host_per_attempt()

    def fresh() -> NeonizeSession:
        nonlocal started
        started += 1
        spec = SessionSpec(started, f"B{started}", proxy, str(store / f"s{started}"))
        session = transport.open_session(spec)
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


# -- several sessions per forked host, against one spawned host per session -------------------------

CRASHER = "BENCHCRASH001"  # the session whose connect makes its host's Go runtime panic
NOW = datetime.now(UTC)


class Watch:
    """Polls a transport as the worker does and keeps every event of every session it knows."""

    def __init__(self, transport: NeonizeTransport) -> None:
        self.transport = transport
        self.sessions: list[NeonizeSession] = []
        self.events: dict[int, list[base.TransportEvent]] = {}

    def add(self, session: NeonizeSession) -> NeonizeSession:
        self.sessions.append(session)
        self.events[id(session)] = []
        return session

    def kinds(self, session: NeonizeSession) -> list[str]:
        return [e.kind for e in self.events[id(session)]]

    def pump(self) -> None:
        self.transport.poll([], NOW)
        for session in self.sessions:
            self.events[id(session)] += session.poll(NOW)

    def until(self, done: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not reached within {timeout:g} s")
            self.pump()
            time.sleep(0.01)

    def for_s(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump()
            time.sleep(0.01)


def host_starts(launcher: Launcher, count: int, per_host: int) -> dict[str, float]:
    """Hosts started one after another: each one's own CPU when it says ready, and the wall
    time to ready. One untimed start first (disk cache; the fork server's preload)."""
    cpus, walls = [], []
    server_cpu = 0.0
    for i in range(count + 1):
        server = launcher.server.pid if launcher.server is not None and launcher.server.ready else None
        server_before = cpu_s(server) if server else 0.0
        started = time.monotonic()
        host = launcher.start(HOST_ARGV, None, ("--sessions-per-host", str(per_host)))
        lines: list[bytes] = []
        while not any(b'"ready"' in line for line in lines):
            lines += host.read_lines()
            if host.exit_code() is not None:
                raise RuntimeError(f"a host died before ready: {host.crash_report()}")
            time.sleep(0.002)
        wall = time.monotonic() - started
        assert host.pid is not None
        if i:
            cpus.append(cpu_s(host.pid))
            walls.append(wall)
            server_cpu += (cpu_s(server) - server_before) if server else 0.0
        host.close(graceful=True)
    REAPER.wait_idle(30)
    med = statistics.median
    return {"cpu": med(cpus), "wall": med(walls), "server_cpu": server_cpu / count}


def measure_design(
    args: argparse.Namespace, per_host: int, fork: bool, hang: FaultProxy, refuse: FaultProxy
) -> dict[str, Any]:
    launcher = Launcher(fork_server=fork)
    label = f"{per_host} per host, {'forked' if fork else 'spawned'}"

    def say(msg: str) -> None:
        print(f"  [{label}] {msg}", file=sys.stderr, flush=True)

    out: dict[str, Any] = {"per_host": per_host, "fork": fork}
    store = Path(tempfile.mkdtemp(prefix="hosts-bench-"))

    say(f"{args.starts} host starts")
    out["start"] = host_starts(launcher, args.starts, per_host)
    if launcher.server is not None and launcher.server.ready:
        out["server_preload_cpu"] = launcher.server.ready.get("cpu_s", 0.0)

    # -- memory: sessions held open, every dial hanging --------------------------------------------
    design = NeonizeTransport(
        sessions_per_host=per_host,
        recycle_after=1 if per_host == 1 and not fork else args.recycle_after,
        env={**os.environ, TEST_GO_PANIC_ENV: CRASHER},
        launcher=launcher,
    )
    design.pool.IDLE_S = 3600.0
    watch = Watch(design)
    say(f"holding {args.sessions} sessions")
    accepted = hang.accepted
    held = [
        watch.add(design.open_session(SessionSpec(i, f"H{i:04d}", hang.url, str(store / f"h{i}"))))
        for i in range(args.sessions)
    ]
    started = time.monotonic()
    for session in held:
        session.connect(NOW)
    watch.until(
        lambda: all(s.ready and s.pid for s in held) and hang.accepted >= accepted + len(held),
        900,
        "every held session dialing",
    )
    out["hold_wall"] = time.monotonic() - started
    watch.for_s(2.0)
    pids = sorted({s.pid for s in held if s.pid})
    server = launcher.server.pid if launcher.server is not None and launcher.server.usable else None
    out["hosts"] = len(pids)
    out["pss_hosts"] = sum(pss_mb(pid) for pid in pids)
    out["pss_server"] = pss_mb(server) if server else 0.0
    out["rss_hosts"] = sum(rss_mb(pid) for pid in pids)
    out["pss_per_session"] = (out["pss_hosts"] + out["pss_server"]) / len(held)
    out["crashed_while_held"] = sum(base.SESSION_CRASHED in watch.kinds(s) for s in held)
    every = [*pids, *([server] if server else [])]
    idle_before = {pid: cpu_s(pid) for pid in every}
    watch.for_s(args.idle_s)
    out["idle_cpu"] = sum(cpu_s(pid) - idle_before[pid] for pid in every) / args.idle_s

    # -- one Go crash, in a full host --------------------------------------------------------------
    say("one Go crash")
    extra = 0
    if per_host > 1:
        while not any(
            not h.retiring and h.room == 1 and len(h.sessions) == per_host - 1 for h in design.pool.hosts
        ):
            extra += 1
            spec = SessionSpec(10_000 + extra, f"F{extra:04d}", hang.url, str(store / f"f{extra}"))
            watch.add(design.open_session(spec)).connect(NOW)
    crasher = watch.add(design.open_session(SessionSpec(99_999, CRASHER, hang.url, str(store / "crasher"))))
    crasher.connect(NOW)
    doomed = crasher.host
    assert doomed is not None
    on_it = len(doomed.sessions)
    watch.until(lambda: base.SESSION_CRASHED in watch.kinds(crasher), 120, "the crash")
    watch.for_s(2.0)
    lost = [s for s in watch.sessions if base.SESSION_CRASHED in watch.kinds(s)]
    [crash] = [e for e in watch.events[id(crasher)] if e.kind == base.SESSION_CRASHED]
    out["crash_lost"], out["crash_on_host"] = len(lost), on_it
    out["crash_text"] = crash.data["error"].split("; stderr tail")[0]
    out["crash_held_lost"] = sum(s in lost for s in held)

    # -- one hung dial given up, in a full host ----------------------------------------------------
    say("one hung dial given up")
    full = [
        s for s in held if s.host is not None and len(s.host.sessions) == per_host and not s.host.retiring
    ]
    victim = full[0]
    assert victim.host is not None
    mates = [s for s in victim.host.sessions.values() if s is not victim]
    alive = [s for s in watch.sessions if s.host is not None and s is not victim]
    before = {id(s): s.pid for s in alive}
    crashed_before = {id(s) for s in alive if base.SESSION_CRASHED in watch.kinds(s)}
    victim.close()  # what the worker does when WAZIPER_CONNECT_TIMEOUT ends a hung dial
    asked = time.monotonic()
    for mate in mates:
        mate.check_alive(NOW)
    pongs: dict[int, tuple[float, bool]] = {}

    def answered() -> bool:
        for mate in mates:
            if id(mate) not in pongs:
                pong = [e for e in watch.events[id(mate)] if e.kind == base.PONG]
                if pong:
                    pongs[id(mate)] = (time.monotonic() - asked, bool(pong[-1].data.get("busy")))
        return len(pongs) == len(mates)

    watch.until(answered, 30, "pongs from the host mates")
    watch.for_s(3.0)
    disturbed = [
        s
        for s in alive
        if s.pid != before[id(s)] or (base.SESSION_CRASHED in watch.kinds(s) and id(s) not in crashed_before)
    ]
    out["hang_lost"] = len(disturbed)
    out["hang_mates"] = len(mates)
    out["hang_pong_max"] = max((p[0] for p in pongs.values()), default=0.0)
    out["hang_busy"] = any(p[1] for p in pongs.values())
    design.close()
    REAPER.wait_idle(30)

    # -- attempts with every dial refused ----------------------------------------------------------
    say(f"{args.attempts} refused attempts, {args.clients} at once")
    refused = NeonizeTransport(
        sessions_per_host=per_host,
        recycle_after=1 if per_host == 1 and not fork else args.recycle_after,
        launcher=launcher,
    )
    run_sessions(args.clients, args.clients, refuse.url, store / "warm", transport=refused)
    warm_hosts = refused.pool.started
    refused.close()
    REAPER.wait_idle(30)
    time.sleep(0.5)
    reaper = launcher.server.pid if fork and launcher.server is not None else None
    mine = os.times()
    cpu_before = cpu_s(reaper, children=True) if reaper else mine.children_user + mine.children_system
    started = time.monotonic()
    failed, crashed = run_sessions(
        args.attempts, args.clients, refuse.url, store / "refused", transport=refused
    )
    elapsed = time.monotonic() - started
    refused.close()
    REAPER.wait_idle(30)
    time.sleep(0.5)  # the fork server waits for its children once we have read their exits
    mine = os.times()
    cpu_after = cpu_s(reaper, children=True) if reaper else mine.children_user + mine.children_system
    out["attempts"], out["attempt_crashes"] = failed, crashed
    out["attempts_per_s"] = failed / elapsed
    out["cpu_per_attempt"] = (cpu_after - cpu_before) / max(1, failed)
    out["hosts_for_attempts"] = refused.pool.started - warm_hosts
    launcher.close()
    REAPER.wait_idle(30)
    return out


def designs_table(args: argparse.Namespace, runs: list[dict[str, Any]]) -> str:
    before = runs[0] if not runs[0]["fork"] else None
    nows = [r for r in runs if r["fork"]]

    def row(name: str, fmt: Any) -> str:
        cells = [fmt(r) for r in runs]
        return f"| {name} | " + " | ".join(cells) + " |"

    head = (
        "| | "
        + ("one spawned host per session (before) | " if before else "")
        + " | ".join(f"{r['per_host']} sessions per forked host" for r in nows)
        + " |"
    )
    n = args.sessions
    rows = [
        head,
        "|---|" + "---:|" * len(runs),
        row(f"PSS per session, {n} held (hosts + fork server)", lambda r: f"{r['pss_per_session']:.1f} MB"),
        row("host processes", lambda r: f"{r['hosts']}"),
        row("PSS per host process", lambda r: f"{r['pss_hosts'] / r['hosts']:.1f} MB"),
        row("fork server PSS", lambda r: f"{r['pss_server']:.1f} MB" if r["fork"] else "–"),
        row("RSS of all hosts (counts shared pages once per host)", lambda r: f"{r['rss_hosts']:.0f} MB"),
        row(f"wall time to have {n} dialing", lambda r: f"{r['hold_wall']:.1f} s"),
        row(
            f"CPU of all hosts while the {n} wait ({args.idle_s:g} s)",
            lambda r: f"{r['idle_cpu'] * 100:.1f} % of one core",
        ),
        row("CPU per host start (its own, to `ready`)", lambda r: f"{r['start']['cpu']:.3f} s"),
        row(
            "fork server CPU per fork",
            lambda r: f"{r['start']['server_cpu'] * 1000:.1f} ms" if r["fork"] else "–",
        ),
        row("wall time per host start", lambda r: f"{r['start']['wall']:.3f} s"),
        row(
            "fork server preload (once)",
            lambda r: f"{r.get('server_preload_cpu', 0):.2f} s CPU" if r["fork"] else "–",
        ),
        row(
            f"attempts/s, every dial refused, {args.clients} at once", lambda r: f"{r['attempts_per_s']:.1f}"
        ),
        row("host CPU per refused attempt", lambda r: f"{r['cpu_per_attempt'] * 1000:.1f} ms"),
        row(f"hosts started for {args.attempts} attempts", lambda r: f"{r['hosts_for_attempts']}"),
        row(
            "sessions lost to one Go crash (worst case: a full host)",
            lambda r: f"{r['crash_lost']} of {r['crash_on_host']} on its host",
        ),
        row("sessions lost to one hung dial, beyond its own", lambda r: f"{r['hang_lost']}"),
        row(
            "its host mates: slowest pong after it was let go",
            lambda r: (
                f"{r['hang_pong_max'] * 1000:.0f} ms ({r['hang_mates']} mates, "
                f"busy: {'yes' if r['hang_busy'] else 'no'})"
                if r["hang_mates"]
                else "– (no mates)"
            ),
        ),
    ]
    ratio = [
        f"{r['per_host']} per host against before: PSS per session "
        f"×{r['pss_per_session'] / before['pss_per_session']:.2f}, CPU per host start "
        f"×{r['start']['cpu'] / before['start']['cpu']:.2f}, attempts/s "
        f"×{r['attempts_per_s'] / before['attempts_per_s']:.1f}"
        for r in nows
        if before
    ]
    crash = f"The crash, as recorded: `{nows[-1]['crash_text']}`" if nows else ""
    sizes = ",".join(str(r["per_host"]) for r in nows)
    cmd = (
        f".venv/bin/python -m bench.neonize_hosts --sessions {n} --per-host {sizes} "
        f"--attempts {args.attempts} --clients {args.clients} --starts {args.starts} "
        f"--recycle-after {args.recycle_after} --idle-s {args.idle_s:g}"
        + (" --skip-before" if not before else "")
    )
    return "\n".join(
        [f"`{cmd}` ({os.cpu_count()} CPUs)", "", *rows, "", *(f"* {line}" for line in ratio), f"* {crash}"]
    )


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
    parser.add_argument("--naive", action="store_true", help="neonize in one process vs. a host per attempt")
    parser.add_argument("--sessions", type=int, default=100, help="sessions held open")
    parser.add_argument("--per-host", default="10", help="sessions per forked host; a list runs each")
    parser.add_argument("--recycle-after", type=int, default=50, help="failed dials before a host retires")
    parser.add_argument("--starts", type=int, default=10, help="host starts timed per design")
    parser.add_argument("--idle-s", type=float, default=10.0, help="CPU of the hosts holding sessions")
    parser.add_argument("--skip-before", action="store_true", help="only the forked designs")
    parser.add_argument(
        "--attempts", type=int, default=None, help="refused attempts (default 300, naive 1000)"
    )
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
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if not args.naive:
        args.attempts = args.attempts or 300
        runs = []
        with FaultProxy("hang") as hang, FaultProxy("refuse") as refuse:
            if not args.skip_before:
                say("one spawned host per session (before the fork server)")
                runs.append(measure_design(args, 1, False, hang, refuse))
            for per_host in (int(n) for n in args.per_host.split(",")):
                say(f"{per_host} sessions per forked host")
                runs.append(measure_design(args, per_host, True, hang, refuse))
        print(designs_table(args, runs))
        return
    args.attempts = args.attempts or 1000
    with FaultProxy("refuse") as proxy:
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
