"""Queue throughput, side by side in one run on SQLite (issue 6, "Measure").

    python -m bench.queue_throughput [--requests 3000] [--clients 8] [--instances 100]
                                     [--messages 3000] [--json]

Enqueue: requests/s of POST /send_message through daphne, against the floor POST /bench/floor
(a minimal Django view that inserts one row, bench/queue_floor.py) served by the same daphne
process, in alternating rounds.

Dispatch: messages/s across N connected sandbox instances with zero send delay, until every
message is `sent`:
  worker     the real `manage.py run_worker` process (its whole loop: leases, heartbeats, events),
  dispatcher worker.sender.Dispatcher driven in this process, sandbox sessions,
  floor      a bare loop doing the same database work with the ORM: select the next due row,
             claim it with a conditional UPDATE, record what the phone received, mark it sent.
Everything runs on a throw-away SQLite database in WAL mode, as the embedded default does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _environment(tmp: str) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        "DJANGO_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "WAZIPER_SESSIONS_DIR": f"{tmp}/sessions",
        "WAZIPER_LOG_DIR": tmp,
        "WAZIPER_LOG_LEVEL": "WARNING",
        "WAZIPER_SEND_DELAY_MIN": "0",
        "WAZIPER_SEND_DELAY_MAX": "0",
        "WAZIPER_THROTTLE_RATE": "100000000/min",
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what}: not reached within {timeout}s")


def _cpu_s(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc: holds on a shared machine."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- enqueue ------------------------------------------------------------------------------------


def _load(port: int, path: str, headers: dict[str, str], total: int, clients: int) -> float:
    """POST `total` JSON messages to `path` over `clients` keep-alive connections; requests/s."""
    per_client = total // clients
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        try:
            for i in range(per_client):
                body = json.dumps({"chat_id": f"62812{index:03d}{i:05d}", "caption": f"bench {i}"})
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
                if response.status != 202:
                    failures.append(f"{path}: HTTP {response.status}")
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"{path}: {exc!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[0]}")
    return per_client * clients / elapsed


def bench_enqueue(env: dict[str, str], owner: Any, token: str, requests: int, clients: int) -> dict[str, Any]:
    from instances.service import create_instance

    instance = create_instance(owner, name="enqueue-bench", transport="sandbox")
    port = _free_port()
    daphne = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "bench.queue_floor:application"],
        cwd=ROOT,
        env={**os.environ, **env, "WAZIPER_BENCH_INSTANCE_PK": str(instance.pk)},
        stdout=subprocess.DEVNULL,
        # A file, never an unread pipe: a full pipe would block daphne mid-benchmark.
        stderr=open(os.path.join(env["WAZIPER_LOG_DIR"], "daphne.err"), "wb"),
    )
    try:

        def up() -> bool:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/health")
                return conn.getresponse().status == 200
            except OSError:
                return False

        _wait(up, 120, "daphne answering")
        _say("daphne up; warming up")
        json_headers = {"Content-Type": "application/json"}
        api = (
            f"/send_message?instance_id={instance.instance_id}",
            {**json_headers, "Authorization": f"Bearer {token}"},
        )
        floor = ("/bench/floor", json_headers)
        _load(port, *api, total=clients * 20, clients=clients)  # warm-up: imports, caches, connections
        _load(port, *floor, total=clients * 20, clients=clients)
        rates: dict[str, list[float]] = {"api": [], "floor": []}
        cpu: dict[str, list[float]] = {"api": [], "floor": []}
        per_round = requests // 3
        for _ in range(3):  # alternate, so drift (WAL growth, other load) hits both sides alike
            for side, (path, headers) in (("floor", floor), ("api", api)):
                before = _cpu_s(daphne.pid)
                rates[side].append(_load(port, path, headers, total=per_round, clients=clients))
                cpu[side].append((_cpu_s(daphne.pid) - before) / per_round * 1000)
            _say(f"enqueue round: floor {rates['floor'][-1]:.0f}/s, api {rates['api'][-1]:.0f}/s")
    finally:
        _stop(daphne)
    api_rate, floor_rate = statistics.median(rates["api"]), statistics.median(rates["floor"])
    api_cpu, floor_cpu = statistics.median(cpu["api"]), statistics.median(cpu["floor"])
    return {
        "requests": requests,
        "clients": clients,
        "send_message_per_s": round(api_rate, 1),
        "floor_per_s": round(floor_rate, 1),
        "ratio": round(api_rate / floor_rate, 3),
        "send_message_cpu_ms": round(api_cpu, 2),
        "floor_cpu_ms": round(floor_cpu, 2),
        "cpu_ratio": round(api_cpu / floor_cpu, 3),
        "rounds": {k: [round(v, 1) for v in vs] for k, vs in rates.items()},
    }


# --- dispatch -----------------------------------------------------------------------------------


def _fill(instances: list[Any], per_instance: int, tag: str) -> None:
    from django.utils import timezone

    from queueing.models import QueuedMessage

    now = timezone.now()
    QueuedMessage.objects.bulk_create(
        [
            QueuedMessage(
                instance=inst, chat_id=f"62812{j:08d}", text=f"{tag} {j}", created_at=now, not_before=now
            )
            for j in range(per_instance)
            for inst in instances
        ],
        batch_size=500,
    )


def _pending(instances: list[Any]) -> int:
    from queueing.models import QueuedMessage

    return QueuedMessage.objects.filter(instance__in=instances, status__in=("queued", "sending")).count()


def dispatch_floor(instances: list[Any], per_instance: int) -> tuple[float, float]:
    from django.utils import timezone

    from instances.models import SandboxReceived
    from queueing.dispatch import CLAIM_ORDER
    from queueing.models import QueuedMessage

    _fill(instances, per_instance, "floor")
    total = len(instances) * per_instance
    start, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done < total:
        for inst in instances:
            now = timezone.now()
            row = (
                QueuedMessage.objects.filter(instance_id=inst.pk, status="queued", not_before__lte=now)
                .order_by(*CLAIM_ORDER)  # the claim index's order: no sort, as for the dispatcher
                .values("pk", "message_id", "chat_id", "text")
                .first()
            )
            if row is None:
                continue
            if not QueuedMessage.objects.filter(pk=row["pk"], status="queued").update(
                status="sending", claimed_by="floor", claimed_at=now, handed_off_at=now, attempts=1
            ):
                continue
            wa_id = "3EB0" + uuid.uuid4().hex[:16].upper()
            SandboxReceived.objects.create(
                instance_id=inst.pk,
                wa_message_id=wa_id,
                chat_id=row["chat_id"],
                kind="text",
                text=row["text"],
                ref=str(row["message_id"]),
                received_at=now,
            )
            QueuedMessage.objects.filter(pk=row["pk"], status="sending").update(
                status="sent", wa_message_id=wa_id, sent_at=now
            )
            done += 1
    return total / (time.perf_counter() - start), (time.process_time() - cpu) / total * 1000


def dispatch_in_process(instances: list[Any], per_instance: int) -> tuple[float, float]:
    from django.utils import timezone

    from worker.sender import Dispatcher
    from worker.transports.base import RECEIPT, SEND_RESULT, SessionSpec
    from worker.transports.sandbox import SandboxTransport

    transport = SandboxTransport()
    sessions = {}
    now = timezone.now()
    for inst in instances:
        spec = SessionSpec(inst.pk, inst.instance_id, "", inst.session_dir(), dict(inst.sandbox))
        session = transport.open_session(spec)
        session.connect(now)
        session.poll(now)
        sessions[inst.pk] = session
    dispatcher = Dispatcher("bench")
    _fill(instances, per_instance, "dispatcher")
    total = len(instances) * per_instance
    start, cpu = time.perf_counter(), time.process_time()
    while True:
        now = timezone.now()
        for pk, session in sessions.items():
            for event in session.poll(now):
                if event.kind == SEND_RESULT:
                    dispatcher.on_send_result(pk, event.data, now)
                elif event.kind == RECEIPT:
                    dispatcher.on_receipt(pk, event.data, now)
        if not dispatcher.step(sessions, now) and dispatcher.busy == 0 and _pending(instances) == 0:
            break
    result = total / (time.perf_counter() - start), (time.process_time() - cpu) / total * 1000
    dispatcher.shutdown(timezone.now())
    return result


def dispatch_worker_process(
    env: dict[str, str], instances: list[Any], per_instance: int
) -> tuple[float, float]:
    from instances.models import Instance
    from instances.service import request_running
    from queueing.models import QueuedMessage

    for inst in instances:
        request_running(inst)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--worker-id", "bench-worker"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(env["WAZIPER_LOG_DIR"], "worker.err"), "wb"),
    )
    try:
        pks = [inst.pk for inst in instances]
        _wait(
            lambda: Instance.objects.filter(pk__in=pks, status="connected").count() == len(pks),
            120,
            "every instance connected",
        )
        before = QueuedMessage.objects.filter(status="sent").count()
        _fill(instances, per_instance, "worker")
        total = len(instances) * per_instance
        start, cpu = time.perf_counter(), _cpu_s(worker.pid)
        _wait(lambda: QueuedMessage.objects.filter(status="sent").count() - before >= total, 600, "all sent")
        return total / (time.perf_counter() - start), (_cpu_s(worker.pid) - cpu) / total * 1000
    finally:
        _stop(worker)


def bench_dispatch(env: dict[str, str], owner: Any, n_instances: int, messages: int) -> dict[str, Any]:
    from instances.service import create_instance

    behaviour = {"linked": True, "receipts": "none", "seed": 1}
    instances = [
        create_instance(owner, name=f"bench-{i}", transport="sandbox", sandbox=behaviour)
        for i in range(n_instances)
    ]
    per_instance = max(1, messages // n_instances)
    floor, floor_cpu = dispatch_floor(instances, per_instance)
    _say(f"dispatch floor {floor:.0f}/s")
    in_process, in_process_cpu = dispatch_in_process(instances, per_instance)
    _say(f"dispatcher in process {in_process:.0f}/s")
    worker, worker_cpu = dispatch_worker_process(env, instances, per_instance)
    _say(f"run_worker {worker:.0f}/s")
    return {
        "instances": n_instances,
        "messages": per_instance * n_instances,
        "worker_per_s": round(worker, 1),
        "dispatcher_per_s": round(in_process, 1),
        "floor_per_s": round(floor, 1),
        "worker_ratio": round(worker / floor, 3),
        "dispatcher_ratio": round(in_process / floor, 3),
        "worker_cpu_ms": round(worker_cpu, 3),
        "dispatcher_cpu_ms": round(in_process_cpu, 3),
        "floor_cpu_ms": round(floor_cpu, 3),
    }


# --- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="enqueue requests per side")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--instances", type=int, default=100, help="connected sandbox instances")
    parser.add_argument("--messages", type=int, default=3000, help="messages per dispatch run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="waziper-bench-")
    env = _environment(tmp)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waziper_site.settings")
    sys.path.insert(0, str(ROOT))
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from instances.models import AccessToken

        call_command("migrate", verbosity=0)
        # A superuser: no instance limit (WAZIPER_MAX_INSTANCES_PER_OWNER) for --instances.
        owner = get_user_model().objects.create_user("bench", password=uuid.uuid4().hex, is_superuser=True)
        token = AccessToken.objects.issue(owner, name="bench")[1]
        result = {
            "python": sys.version.split()[0],
            "database": "sqlite (WAL)",
            "enqueue": bench_enqueue(env, owner, token, args.requests, args.clients),
            "dispatch": bench_dispatch(env, owner, args.instances, args.messages),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    e, d = result["enqueue"], result["dispatch"]
    row = "  {:<22} {:>9.1f} {:<6} {:>7.2f} ms CPU each {}".format
    print(f"enqueue, {e['requests']} requests per side, {e['clients']} clients, one daphne process:")
    print(row("POST /send_message", e["send_message_per_s"], "req/s", e["send_message_cpu_ms"], ""))
    print(row("floor (insert 1 row)", e["floor_per_s"], "req/s", e["floor_cpu_ms"], ""))
    print(f"  ratio {e['ratio']:.2f} in requests/s, {e['cpu_ratio']:.2f} in CPU per request")
    print(
        f"dispatch, {d['messages']} messages over {d['instances']} connected sandbox instances, zero delay:"
    )
    print(
        row(
            "run_worker process",
            d["worker_per_s"],
            "msg/s",
            d["worker_cpu_ms"],
            f"(x{d['worker_ratio']:.2f})",
        )
    )
    print(
        row(
            "Dispatcher in-proc",
            d["dispatcher_per_s"],
            "msg/s",
            d["dispatcher_cpu_ms"],
            f"(x{d['dispatcher_ratio']:.2f})",
        )
    )
    print(row("floor (bare loop)", d["floor_per_s"], "msg/s", d["floor_cpu_ms"], ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
