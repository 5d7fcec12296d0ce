"""The worker as a real process, alone and supervised by `serve`."""

from __future__ import annotations

import os
import signal
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from breaker.models import BreakerState
from instances.models import Instance, WorkerProcess
from instances.service import create_instance, request_running
from tests.support.processes import child_env, free_port, manage_py, wait_for_http, wait_until
from worker.supervisor import WorkerSupervisor

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
FAST = {
    "WAZIPER_RETRY_BASE": "0.01",
    "WAZIPER_RETRY_CAP": "0.02",
    "WAZIPER_LEASE_TTL": "1.5",
    "WAZIPER_BREAKER_COOLDOWN": "600",
}


def status(instance: Instance) -> str:
    instance.refresh_from_db()
    return instance.status


def test_failing_instance_trips_while_a_healthy_one_stays_connected_and_sigterm_exits_cleanly(
    owner: Any, settings: Any
) -> None:
    failing = create_instance(owner, name="failing", transport="sandbox", sandbox={"connect": "fail"})
    healthy = create_instance(owner, name="healthy", transport="sandbox", sandbox={"linked": True})
    for instance in (failing, healthy):
        request_running(instance)
    metrics_port = free_port()
    worker = manage_py(
        settings,
        "run_worker",
        "--worker-id",
        "it-worker",
        **FAST,
        WAZIPER_WORKER_METRICS_PORT=str(metrics_port),
    )
    try:
        wait_until(lambda: status(healthy) == "connected", message="healthy connected")
        wait_until(
            lambda: BreakerState.objects.filter(instance=failing, state="open").exists(),
            message="breaker open",
        )
        assert status(failing) == "breaker_open"
        assert status(healthy) == "connected"
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:
            scraped = resp.read().decode()
        assert 'waziper_breaker_transitions_total{to_state="open"} 1.0' in scraped
        assert 'waziper_failures_total{kind="connect_failed"} 15.0' in scraped
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out
    assert "Queue processor started" in out
    assert "worker it-worker stopped" in out
    assert not Instance.objects.exclude(worker_id="").exists()  # leases released
    assert WorkerProcess.objects.get(worker_id="it-worker").stopped_at is not None


def test_serve_restarts_a_killed_worker_and_the_web_never_stops_answering(owner: Any, settings: Any) -> None:
    instance = create_instance(owner, name="shop", transport="sandbox", sandbox={"linked": True})
    request_running(instance)
    port = free_port()
    serve = manage_py(settings, "serve", "--port", str(port), **FAST)
    health_failures: list[str] = []
    stop_polling = threading.Event()

    def poll_health() -> None:
        while not stop_polling.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    assert resp.status == 200
            except Exception as exc:  # any miss while the worker is down is what we look for
                health_failures.append(repr(exc))
            stop_polling.wait(0.05)

    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", serve)
        poller = threading.Thread(target=poll_health, daemon=True)
        poller.start()
        wait_until(lambda: status(instance) == "connected", message="connected under the first worker")
        first = WorkerProcess.objects.get(stopped_at__isnull=True)
        os.kill(first.pid, signal.SIGKILL)
        wait_until(
            lambda: WorkerProcess.objects.exclude(pk=first.pk).filter(stopped_at__isnull=True).exists(),
            message="a new worker registered",
        )
        second = WorkerProcess.objects.exclude(pk=first.pk).get()
        assert second.pid != first.pid
        wait_until(
            lambda: Instance.objects.filter(
                pk=instance.pk, worker_id=second.worker_id, status="connected"
            ).exists(),
            message="the new worker took the lease back and reconnected",
        )
        stop_polling.set()
        poller.join()
        assert health_failures == []
    finally:
        stop_polling.set()
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=40)
    assert "exited with code -9; restarting" in out
    assert serve.returncode == 0
    # serve stopped its (second) worker cleanly; the SIGKILLed one never said goodbye.
    assert WorkerProcess.objects.get(pk=second.pk).stopped_at is not None


def test_the_supervisor_restarts_a_worker_that_stops_making_progress(owner: Any, settings: Any) -> None:
    instance = create_instance(owner, name="shop", transport="sandbox", sandbox={"linked": True})
    request_running(instance)
    # The child beats every 0.5 s; frozen (SIGSTOP, as a process hung in a call that never
    # returns), it stays alive but beats no more.
    env = child_env(settings, **FAST, WAZIPER_WORKER_STALL_S="3")
    supervisor = WorkerSupervisor(env=env, stall_s=3, stop_grace_s=1)
    supervisor.start()
    try:
        wait_until(lambda: status(instance) == "connected", message="connected under the first worker")
        first = WorkerProcess.objects.get()
        os.kill(first.pid, signal.SIGSTOP)
        wait_until(
            lambda: WorkerProcess.objects.exclude(pk=first.pk).exists(),
            message="a new worker registered",
        )
        second = WorkerProcess.objects.exclude(pk=first.pk).get()
        wait_until(
            lambda: Instance.objects.filter(
                pk=instance.pk, worker_id=second.worker_id, status="connected"
            ).exists(),
            message="the new worker took the instance over",
        )
        assert supervisor.stalls == 1
        with pytest.raises(ProcessLookupError):
            os.kill(first.pid, 0)  # ended (SIGKILL after the grace: a frozen process ignores SIGTERM)
    finally:
        supervisor.stop()
    assert WorkerProcess.objects.get(pk=second.pk).stopped_at is not None


def test_a_starting_worker_makes_every_session_store_private(owner: Any, settings: Any) -> None:
    stopped = create_instance(owner, name="idle", transport="neonize")  # its store is never opened
    store = Path(stopped.session_dir())
    root = store.parent
    store.mkdir(parents=True)
    (store / "whatsmeow.sqlite3").write_bytes(b"")
    for path, mode in ((root, 0o755), (store, 0o755), (store / "whatsmeow.sqlite3", 0o644)):
        path.chmod(mode)
    worker = manage_py(settings, "run_worker", "--worker-id", "it-private", **FAST)
    try:
        wait_until(lambda: store.stat().st_mode & 0o777 == 0o700, message="store tightened")
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out
    modes = {p.name: p.stat().st_mode & 0o777 for p in (root, store, store / "whatsmeow.sqlite3")}
    assert modes == {"sessions": 0o700, stopped.instance_id: 0o700, "whatsmeow.sqlite3": 0o600}
