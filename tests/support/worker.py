"""Driving a real Worker step by step with a fake clock (as healthchecks tests `sendalerts`)."""

from __future__ import annotations

from datetime import datetime

from instances.models import Instance
from instances.runtime.clock import FakeClock
from instances.runtime.transports.sandbox import SandboxTransport
from instances.runtime.worker import Worker


class _NoQueueYet:  # TEMPORARY until instances/runtime/dispatching.py lands
    def step(self, connected, now):
        return False

    def on_send_result(self, pk, data, now):
        return False

    def on_receipt(self, pk, data, now):
        pass

    def on_session_lost(self, pk, now):
        pass

    def check_timeouts(self, now):
        pass

    def shutdown(self, now):
        pass


def make_worker(clock: FakeClock, worker_id: str = "w1", **kwargs) -> Worker:
    kwargs.setdefault("transports", {"sandbox": SandboxTransport()})
    try:
        import instances.runtime.dispatching  # noqa: F401
    except ImportError:
        kwargs.setdefault("dispatcher", _NoQueueYet())
    worker = Worker(worker_id=worker_id, clock=clock, rand=lambda: 0.5, **kwargs)
    worker.register(clock.now())
    # Cleanup has its own tests; here it would only add noise at the first tick.
    worker.last_run["cleanup"] = clock.now()
    return worker


def tick(worker: Worker, clock: FakeClock, seconds: float = 0.0, times: int = 1) -> datetime:
    """Advance the fake clock and run every step once, `times` times."""
    for _ in range(times):
        now = clock.advance(seconds)
        worker.run_once(now)
    return clock.now()


def status_of(instance: Instance) -> str:
    instance.refresh_from_db()
    return instance.status
