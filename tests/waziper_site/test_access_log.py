"""The access log's redaction, and its line for HTTP requests and websocket handshakes."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator

from instances.models import Instance
from waziper_site.access_log import AccessLogMiddleware, redact_query, redact_target
from waziper_site.asgi import application

TOKEN = "wzp_AbC-123_xyz"


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        (
            f"access_token={TOKEN}&instance_id=6921B60FBF7D9",
            "access_token=[redacted]&instance_id=6921B60FBF7D9",
        ),
        (
            "token=a&password=b&secret=c&api_key=d",
            "token=[redacted]&password=[redacted]&secret=[redacted]&api_key=[redacted]",
        ),
        ("Access%5FToken=x", "Access%5FToken=[redacted]"),  # the key as the server decodes it
        (f"t={TOKEN}", "t=[redacted]"),  # a token under any name
        ("since=12&wait=5", "since=12&wait=5"),
        ("access_token", "access_token"),
        ("", ""),
    ],
)
def test_secret_values_are_replaced_and_the_rest_kept(query: str, shown: str) -> None:
    assert redact_query(query) == shown


def test_a_token_in_the_path_is_replaced_too() -> None:
    assert redact_target(f"/x/{TOKEN}/y?a=1") == "/x/[redacted]/y?a=1"


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_an_http_request_is_one_line_with_client_method_path_status_and_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="waziper.access")
    comm = HttpCommunicator(AccessLogMiddleware(ok_app), "GET", f"/instances?access_token={TOKEN}")
    comm.scope["client"] = ("198.51.100.7", 5000)
    await comm.get_response()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "waziper.access"]
    assert line.startswith('198.51.100.7 "GET /instances?access_token=[redacted]" 204 ')
    assert line.endswith("ms")


@pytest.mark.django_db(transaction=True)
async def test_a_refused_websocket_is_logged_with_its_close_code_and_no_token(
    caplog: pytest.LogCaptureFixture, instance: Instance
) -> None:
    caplog.set_level(logging.INFO, logger="waziper.access")
    path = f"/ws/instances/{instance.instance_id}/?access_token={TOKEN}"
    comm = WebsocketCommunicator(application, path, headers=[(b"host", b"localhost")])
    connected, _ = await comm.connect()
    assert not connected
    (line,) = [r.getMessage() for r in caplog.records if r.name == "waziper.access"]
    assert line.startswith(
        f'unknown "WS /ws/instances/{instance.instance_id}/?access_token=[redacted]" 403 (close 4401) '
    )
    assert TOKEN not in caplog.text
