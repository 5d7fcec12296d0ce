"""The README's example receiver, run as written (secret and port filled in), verifies what the
deliverer posts and turns away what another secret signed."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from typing import Any

import pytest

from instances.models import Instance
from kernel.clock import FakeClock
from tests.support.processes import ROOT, free_port, wait_until
from tests.support.webhooks import emit, make_endpoint, run_until_idle
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def readme_receiver(secret: str, port: int) -> str:
    readme = (ROOT / "README.md").read_text()
    [code] = re.findall(r"```python\n(# pip install standardwebhooks\n.*?)```", readme, re.DOTALL)
    return code.replace("whsec_…", secret).replace('("", 8080)', f'("127.0.0.1", {port})')


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def test_the_readme_receiver_verifies_deliveries(
    owner: Any, instance: Instance, clock: FakeClock, make_deliverer: Any
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/wa"
    _, secret = make_endpoint(owner, url, instance=instance)
    make_endpoint(owner, url, instance=instance)  # another endpoint, another secret
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", readme_receiver(secret, port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until(lambda: listening(port), timeout=10, message="the README receiver listening")
        emit(instance, "status", {"status": "connected", "detail": ""}, clock)
        run_until_idle(make_deliverer(), clock)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    codes = sorted(WebhookDelivery.objects.values_list("last_status_code", flat=True))
    assert codes == [204, 401]  # its own secret verifies; the other endpoint's does not
    assert out.startswith("instance.status {'status': 'connected'")
