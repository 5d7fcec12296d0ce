from __future__ import annotations

from typing import Any

import pytest

from instances.api import polling
from tests.instances.api.stepped_worker import SteppedWorker
from tests.instances.api.worker_sim import FakeWait


@pytest.fixture
def fake_wait(monkeypatch: Any) -> FakeWait:
    """Views that wait for the worker wait on a fake clock (no real sleeps in these tests)."""
    wait = FakeWait()
    monkeypatch.setattr(polling, "clock", wait.clock)
    monkeypatch.setattr(polling, "sleep", wait.sleep)
    return wait


@pytest.fixture
def worker() -> SteppedWorker:
    return SteppedWorker()
