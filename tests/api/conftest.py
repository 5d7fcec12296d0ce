from __future__ import annotations

from typing import Any

import pytest

from kernel import waiting
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import FakeWait


@pytest.fixture
def fake_wait(monkeypatch: Any) -> FakeWait:
    """Views that wait for the worker wait on a fake clock (no real sleeps in these tests)."""
    wait = FakeWait()
    monkeypatch.setattr(waiting, "clock", wait.clock)
    monkeypatch.setattr(waiting, "sleep", wait.sleep)
    return wait


@pytest.fixture
def worker() -> SteppedWorker:
    return SteppedWorker()
