"""The worker between a scan and `connected`, with real session host processes (the scripted
tests/support/fake_host.py) and a fake clock: after pairing, whatsmeow reconnects, and that
dial can hang like any other."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from breaker.models import FailureEvent
from instances.models import Instance
from instances.service import create_instance, request_running
from kernel.clock import FakeClock
from tests.support.worker import make_worker, status_of, tick
from worker.loop import Worker
from worker.transports.host_process import REAPER
from worker.transports.neonize import NeonizeTransport

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
FAKE_HOST = Path(__file__).resolve().parents[1] / "support" / "fake_host.py"
JID = "628123:4@s.whatsapp.net"


def scripted_worker(clock: FakeClock, script: dict[str, Any]) -> Worker:
    argv = [sys.executable, str(FAKE_HOST), json.dumps(script)]
    return make_worker(clock, transports={"neonize": NeonizeTransport(host_argv=argv, sessions_per_host=1)})


def tick_until(worker: Worker, clock: FakeClock, done: Any, timeout: float = 20.0) -> None:
    """Tick without moving the fake clock until `done()`: the host is a real process."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the session host never got there"
        tick(worker, clock)
        time.sleep(0.01)


def test_a_reconnect_after_pairing_that_hangs_is_ended_at_the_connect_timeout(
    owner: Any, settings: Any
) -> None:
    instance = create_instance(owner, name="real", transport="neonize")
    request_running(instance)
    qr = {"event": "qr", "session": "$session", "code": "2@first"}
    paired = {"event": "paired", "session": "$session", "jid": JID, "push_name": "Ana"}
    clock = FakeClock()
    worker = scripted_worker(clock, {"connect": [qr, paired]})  # ... and `connected` never comes
    try:
        tick_until(worker, clock, lambda: Instance.objects.get(pk=instance.pk).jid == JID)
        tick(worker, clock, settings.WAZIPER_CONNECT_TIMEOUT)
        failure = FailureEvent.objects.get(instance=instance)
        assert failure.kind == "connect_timeout"
        assert status_of(instance) == "disconnected"
    finally:
        worker.shutdown(clock.now())
        REAPER.wait_idle(10)
