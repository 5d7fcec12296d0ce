"""Driving a real Worker step by step with a fake clock (as healthchecks tests `sendalerts`):
`tick` is the one way tests step the worker; `SteppedWorker` keeps a worker and its clock
together for the API tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from instances.models import Instance
from instances.service import create_instance, request_running
from kernel import waiting
from kernel.clock import FakeClock
from tests.support.worker_sim import FakeWait
from worker.loop import Worker
from worker.transports.sandbox import SandboxTransport


def make_worker(clock: FakeClock, worker_id: str = "w1", **kwargs) -> Worker:
    kwargs.setdefault("transports", {"sandbox": SandboxTransport()})
    worker = Worker(worker_id=worker_id, clock=clock, rand=lambda: 0.5, **kwargs)
    worker.register(clock.now())
    # Cleanup has its own tests; here it would only add noise at the first tick.
    worker.periodic.last_run["cleanup"] = clock.now()
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


class SteppedWorker:
    """A worker and its fake clock together, for tests of endpoints that wait for the worker's
    reaction: `run_while_waiting` makes every sleep of a waiting view one worker tick."""

    def __init__(self) -> None:
        # Starts at the real time: the views compare QR expiry and leases with timezone.now().
        self.clock = FakeClock(timezone.now())
        self.worker = make_worker(self.clock)

    def tick(self, seconds: float = waiting.INTERVAL_S, times: int = 1) -> None:
        tick(self.worker, self.clock, seconds, times)

    def run_while_waiting(self, wait: FakeWait) -> None:
        """Each time a view sleeps waiting for the worker, the worker takes one step."""
        wait.on_sleep = lambda _n: self.tick()

    def holds(self, instance_pk: int) -> bool:
        return instance_pk in self.worker.leased


def connected_sandbox(owner: Any, worker: SteppedWorker, **behaviour: Any) -> Instance:
    """A sandbox instance of `owner` with a linked phone, connected in `worker`'s hands (its
    behaviour JSON: `linked` plus `behaviour`)."""
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True, **behaviour})
    request_running(instance)
    worker.tick(times=5)
    instance.refresh_from_db()
    assert instance.status == Instance.Status.CONNECTED
    return instance
