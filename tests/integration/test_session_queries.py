"""Asking a live session with every process real: `manage.py serve` (daphne and its supervised
worker) answers GET /instances/<id>/groups and a number check from the sandbox phone, then the
same list from the database."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from instances.models import AccessToken, Instance
from instances.service import create_instance, request_running
from tests.support.processes import free_port, start_web, wait_for_http, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GROUP = "120363000000000001@g.us"


def test_serve_answers_groups_and_number_checks_from_the_live_session(
    owner: Any, settings: Any, tmp_path: Path
) -> None:
    token = AccessToken.objects.issue(owner, name="it")[1]
    instance = create_instance(
        owner,
        transport="sandbox",
        sandbox={
            "linked": True,
            "groups": [{"id": GROUP, "name": "Staff", "participants": ["628200000002"]}],
            "on_whatsapp": ["628200000002"],
        },
    )
    request_running(instance)
    port = free_port()
    command = [sys.executable, "manage.py", "serve", "--port", "{port}"]  # with its worker
    serve = start_web(settings, command, port, tmp_path / "serve.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", serve, timeout=60)
        wait_until(
            lambda: Instance.objects.get(pk=instance.pk).status == "connected",
            timeout=60,
            message="connected",
        )
        base = f"http://127.0.0.1:{port}/instances/{instance.instance_id}"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            asked = client.get(f"{base}/groups").json()["data"]
            again = client.get(f"{base}/groups").json()["data"]
            checked = client.get(f"{base}/contacts/check", params={"phones": "628200000002,628200000009"})
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    assert [(g["id"], g["size"]) for g in asked["groups"]] == [(GROUP, 2)]
    assert (asked["cached"], again["cached"]) == (False, True)
    assert [n["on_whatsapp"] for n in checked.json()["data"]["numbers"]] == [True, False]
