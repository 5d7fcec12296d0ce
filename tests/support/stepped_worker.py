"""The real worker (instances/runtime/worker.py with the sandbox transport), stepped on a fake
clock, for tests of endpoints that wait for the worker's reaction."""

from __future__ import annotations

from django.utils import timezone

from kernel import waiting
from kernel.clock import FakeClock
from tests.support.worker import make_worker, tick
from tests.support.worker_sim import FakeWait


class SteppedWorker:
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
