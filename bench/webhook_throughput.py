"""Webhook delivery, measured in one run on SQLite (issue 12, "Measure").

    python -m bench.webhook_throughput [--throughput 3000] [--latency 200] [--backlog 10000]
                                       [--outage 60] [--json]

A receiver (tests/support/webhook_receiver.py) runs in a process of its own on 127.0.0.1; the
deliverer is the real `manage.py deliver_webhooks` process with the default settings (private
URLs allowed, as the receiver is on loopback). Everything runs on a throw-away SQLite database in
WAL mode, as the embedded default does.

1. Floor: a bare loop of httpx POSTs (one client, keep-alive) of the same body to the receiver,
   run before and after the deliverer's run (the mean is the floor).
2. Throughput: N events in the outbox before the deliverer starts; deliveries/s from its first
   POST to its last, as the receiver saw them (so start-up is not counted).
3. Latency at idle: events written one at a time, 100 ms apart, to a running deliverer; from the
   event's commit to its arrival at the receiver (the body's `timestamp` is the event's time).
4. Outage: the receiver is stopped; a backlog of events is written; after `--outage` seconds the
   receiver comes back. Reported: how long until the first delivery after its return (the
   endpoint's breaker waits for its next probe), how long the rest took, that every event
   arrived (and how many twice), and how far the arrival order strays from the order due.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _environment(tmp: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "WAZIPER_SESSIONS_DIR": f"{tmp}/sessions",
        "WAZIPER_LOG_DIR": tmp,
        "WAZIPER_LOG_LEVEL": "WARNING",
        "WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS": "1",
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """The receiver process: started, stopped (connections refused), and asked what it got."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port, self.env = port, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.webhook_receiver", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.stats()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stats(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=30) as response:
            return json.loads(response.read())

    def wait_for(self, event_ids: list[int], timeout: float) -> list[dict[str, Any]]:
        """Wait until every one of these events arrived; return what arrived for them."""
        wanted = {f"evt_{event_id}" for event_id in event_ids}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = [item for item in self.stats() if item["id"] in wanted]
            if len({item["id"] for item in items}) == len(wanted):
                return items
            time.sleep(0.2)
        raise RuntimeError(
            f"{len({i['id'] for i in items})} of {len(wanted)} deliveries arrived in {timeout:g}s"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def _deliverer(env: dict[str, str], tmp: str) -> subprocess.Popen[bytes]:
    log = open(f"{tmp}/deliverer.log", "ab")
    return subprocess.Popen(
        [sys.executable, "manage.py", "deliver_webhooks", "--deliverer-id", "bench"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _floor(url: str, count: int) -> float:
    import httpx

    body = json.dumps({"type": "bench.floor", "timestamp": "2026-01-01T00:00:00Z", "data": {"n": 0}})
    headers = {"content-type": "application/json"}
    with httpx.Client(trust_env=False) as client:
        for _ in range(50):  # warm up the connection
            client.post(url, content=body, headers=headers)
        started = time.perf_counter()
        for _ in range(count):
            client.post(url, content=body, headers=headers)
        return count / (time.perf_counter() - started)


class Bench:
    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.env = _environment(tmp)
        os.environ.update(
            {k: v for k, v in self.env.items() if k.startswith(("DATABASE_URL", "DJANGO_", "WAZIPER_"))}
        )
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waziper_site.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        self.receiver = Receiver(_free_port(), self.env)

    def setup(self) -> None:
        from django.contrib.auth import get_user_model

        from instances.service import create_instance
        from webhooks import service

        owner = get_user_model().objects.create_user(username="bench")
        self.instance = create_instance(owner, name="bench", transport="sandbox")
        self.endpoint, _ = service.create_endpoint(owner, url=self.receiver.url, instance=self.instance)

    def emit(self, count: int, batch: int = 100) -> list[int]:
        from django.db import transaction

        from instances.events import emit_event

        ids: list[int] = []
        for start in range(0, count, batch):
            if start:
                time.sleep(0.01)  # SQLite's lock is not fair: let the deliverer write too
            with transaction.atomic():
                for n in range(start, min(count, start + batch)):
                    payload = {"kind": "text", "text": f"message {n}", "chat": "6281234567890@s.whatsapp.net"}
                    ids.append(emit_event(self.instance, "message.received", payload).pk)
        return ids

    def throughput(self, count: int) -> dict[str, float]:
        ids = self.emit(count)
        proc = _deliverer(self.env, self.tmp)
        try:
            items = self.receiver.wait_for(ids, timeout=600)
        finally:
            _stop(proc)
        times = sorted(item["at"] for item in items)
        return {"deliveries": count, "per_s": (count - 1) / (times[-1] - times[0])}

    def latency(self, count: int) -> dict[str, float]:
        proc = _deliverer(self.env, self.tmp)
        ids: list[int] = []
        try:
            time.sleep(5)  # started and idle
            for _ in range(count):
                ids += self.emit(1)
                time.sleep(0.1)
            items = self.receiver.wait_for(ids, timeout=120)
        finally:
            _stop(proc)
        lags = [
            (item["at"] - datetime.fromisoformat(item["timestamp"].replace("Z", "+00:00")).timestamp()) * 1000
            for item in items
        ]
        return {
            "events": count,
            "p50_ms": statistics.median(lags),
            "p99_ms": _percentile(lags, 0.99),
            "max_ms": max(lags),
        }

    def outage(self, count: int, outage_s: float) -> dict[str, Any]:
        from webhooks.models import WebhookDelivery

        self.receiver.stop()
        proc = _deliverer(self.env, self.tmp)
        try:
            down_at = time.monotonic()
            emitted = self.emit(count)
            ids = set(emitted)
            time.sleep(max(0.0, outage_s - (time.monotonic() - down_at)))
            self.receiver.start()
            back_at = time.time()
            items = self.receiver.wait_for(emitted, timeout=3600)
        finally:
            _stop(proc)
        arrived = [int(item["id"].removeprefix("evt_")) for item in items]
        # Due order: by the delivery's due time then id; all of these were due at once when the
        # breaker closed, so the event id order is the due order. Displacement: how many places
        # an arrival is from its place in that order (concurrent lanes shuffle neighbours).
        due_order = sorted(set(arrived))
        place = {event_id: index for index, event_id in enumerate(due_order)}
        firsts: list[int] = []
        seen: set[int] = set()
        for event_id in arrived:
            if event_id not in seen:
                seen.add(event_id)
                firsts.append(event_id)
        displacement = max(abs(place[event_id] - index) for index, event_id in enumerate(firsts))
        times = sorted(item["at"] for item in items)
        statuses = set(WebhookDelivery.objects.filter(event_id__in=ids).values_list("status", flat=True))
        return {
            "backlog": count,
            "outage_s": outage_s,
            "first_after_return_s": times[0] - back_at,
            "drain_s": times[-1] - times[0],
            "drain_per_s": (count - 1) / (times[-1] - times[0]),
            "lost": len(ids - set(arrived)),
            "duplicates": len(arrived) - len(set(arrived)),
            "max_order_displacement": displacement,
            "statuses": sorted(statuses),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--floor", type=int, default=3000)
    parser.add_argument("--throughput", type=int, default=3000)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--outage", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="waziper-webhook-bench-")
    bench = Bench(tmp)
    try:
        bench.receiver.start()
        bench.setup()
        # The floor before and after the deliverer's run: the machine's load drifts.
        before = _floor(bench.receiver.url, args.floor)
        results: dict[str, Any] = {"throughput": bench.throughput(args.throughput)}
        after = _floor(bench.receiver.url, args.floor)
        results["floor_per_s"] = (before + after) / 2
        results["floor_runs_per_s"] = [before, after]
        results["ratio_to_floor"] = results["throughput"]["per_s"] / results["floor_per_s"]
        results["latency"] = bench.latency(args.latency)
        results["outage"] = bench.outage(args.backlog, args.outage)
    finally:
        bench.receiver.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    t, lat, out = results["throughput"], results["latency"], results["outage"]
    ratio = results["ratio_to_floor"]
    runs = " / ".join(f"{run:.0f}" for run in results["floor_runs_per_s"])
    print(f"floor: a bare httpx POST loop      {results['floor_per_s']:.0f} POST/s (before / after: {runs})")
    print(f"deliverer, {t['deliveries']} queued         {t['per_s']:.0f} deliveries/s ({ratio:.2f} × floor)")
    print(
        f"latency at idle, {lat['events']} events      p50 {lat['p50_ms']:.0f} ms, "
        f"p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms"
    )
    print(
        f"{out['backlog']} after a {out['outage_s']:g} s outage: first delivery "
        f"{out['first_after_return_s']:.1f} s after the receiver's return, drained in "
        f"{out['drain_s']:.1f} s ({out['drain_per_s']:.0f}/s); lost {out['lost']}, twice "
        f"{out['duplicates']}, order displacement <= {out['max_order_displacement']}, "
        f"statuses {out['statuses']}"
    )


if __name__ == "__main__":
    main()
