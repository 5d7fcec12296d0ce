"""The inbox with real processes: `manage.py serve` (daphne and its supervised worker), a
sandbox instance linked by its simulated phone's scan, a contact's messages sent over HTTP,
and the inbox read back over HTTP, its media fetched through the live session."""

from __future__ import annotations

import base64
import json
import signal
import urllib.request
from typing import Any

import pytest

from instances.models import AccessToken, Instance
from instances.service import create_instance, request_running
from tests.support.processes import free_port, manage_py, wait_for_http, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PHOTO = b"\xff\xd8\xff\xe0 a photo from the sandbox"


def call(port: int, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        content = response.read()
        return json.loads(content) if response.headers["Content-Type"] == "application/json" else content


def status(instance: Instance) -> str:
    instance.refresh_from_db()
    return instance.status


def test_a_sandbox_contacts_messages_reach_get_messages_and_their_media_downloads(
    owner: Any, settings: Any
) -> None:
    instance = create_instance(owner, name="inbox", transport="sandbox")
    request_running(instance)
    token = AccessToken.objects.issue(owner)[1]
    port = free_port()
    serve = manage_py(settings, "serve", "--port", str(port))
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", serve)
        wait_until(lambda: status(instance) == "qr_pending", message="a QR code shown")
        call(port, "POST", f"/sandbox/{instance.instance_id}/scan", token)
        wait_until(lambda: status(instance) == "connected", message="the simulated phone linked")
        incoming = f"/sandbox/{instance.instance_id}/incoming"
        text = call(
            port, "POST", incoming, token, {"from": "628222000111", "text": "halo", "push_name": "Budi"}
        )
        photo = call(
            port,
            "POST",
            incoming,
            token,
            {
                "from": "628222000111",
                "kind": "image",
                "caption": "foto",
                "media": base64.b64encode(PHOTO).decode(),
            },
        )
        sent_ids = {text["data"]["wa_message_id"], photo["data"]["wa_message_id"]}

        def listed() -> list[dict[str, Any]]:
            return call(port, "GET", f"/messages?direction=in&instance_id={instance.instance_id}", token)[
                "data"
            ]

        wait_until(
            lambda: {m["wa_message_id"] for m in listed()} == sent_ids, message="both messages in the inbox"
        )
        newest, oldest = listed()
        assert (oldest["kind"], oldest["text"], oldest["push_name"]) == ("text", "halo", "Budi")
        assert (newest["kind"], newest["text"], newest["media"]["size"]) == ("image", "foto", len(PHOTO))
        detail = call(port, "GET", f"/messages/{newest['id']}", token)["data"]
        assert detail["raw"]["message"]["imageMessage"]["caption"] == "foto"
        assert call(port, "GET", f"/messages/{newest['id']}/media", token) == PHOTO
    finally:
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=40)
    assert serve.returncode == 0, out
