"""webhooks.transport: the pooled client posts only to addresses the SSRF guard allows, and to
the very address it checked."""

from __future__ import annotations

import httpx
import pytest

from tests.support.webhook_receiver import Receiver
from webhooks import transport


def client(allow_private: bool, resolver: dict[str, list[str]] | None = None) -> httpx.Client:
    names = resolver or {}
    return transport.client(
        allow_private=allow_private,
        connect_timeout=1,
        timeout=2,
        resolver=lambda host, port: names[host],
    )


def test_a_loopback_url_is_refused_unless_private_urls_are_allowed(receiver: Receiver) -> None:
    with pytest.raises(httpx.ConnectError) as refused:
        client(False).post(receiver.url(), content=b"{}")
    assert isinstance(refused.value.__cause__, transport.BlockedWebhookAddress)
    assert client(True).post(receiver.url(), content=b"{}").status_code == 200


def test_a_name_resolving_to_a_private_address_is_refused_at_connect() -> None:
    with pytest.raises(httpx.ConnectError) as refused:
        client(False, {"hooks.example": ["93.184.215.14", "10.0.0.7"]}).post("http://hooks.example/x")
    assert "10.0.0.7 is a private address" in str(refused.value)


def test_the_connection_goes_to_the_address_that_was_checked(receiver: Receiver) -> None:
    url = f"http://hooks.example:{receiver.port}/named"
    assert client(True, {"hooks.example": ["127.0.0.1"]}).post(url, content=b"{}").status_code == 200
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.example:{receiver.port}"


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.redirects["/moved"] = receiver.url("/elsewhere")
    response = client(True).post(receiver.url("/moved"), content=b"{}")
    assert response.status_code == 307
    assert [got.path for got in receiver.received] == ["/moved"]


def test_environment_proxies_are_ignored(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    assert client(True).post(receiver.url(), content=b"{}").status_code == 200
