"""Driving a real Worker step by step with a fake clock (as healthchecks tests `sendalerts`)."""

from __future__ import annotations

from datetime import datetime

from instances.models import Instance
from kernel.clock import FakeClock
from worker.loop import Worker
from worker.transports.sandbox import SandboxTransport


def make_worker(clock: FakeClock, worker_id: str = "w1", **kwargs) -> Worker:
    kwargs.setdefault("transports", {"sandbox": SandboxTransport()})
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
