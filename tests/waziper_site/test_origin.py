"""The websocket's Origin check: this site exactly (scheme, host and port), as Django's CSRF
check has it, through the production ASGI stack."""

from __future__ import annotations

from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from instances.models import Instance
from waziper_site.asgi import application
from waziper_site.origin import origin_allowed

pytestmark = [pytest.mark.django_db(transaction=True)]


def scope(host: str, *, scheme: str = "ws", **headers: str) -> dict[str, Any]:
    raw = [(b"host", host.encode())] + [
        (k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()
    ]
    return {"type": "websocket", "scheme": scheme, "headers": raw}


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:8000", "localhost:8000"),
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://localhost", "localhost"),
        ("http://localhost", "localhost:80"),  # the default port, written out or not
        ("HTTP://LocalHost:8000", "localhost:8000"),
    ],
)
def test_a_page_of_this_very_site_may_open_the_socket(origin: str, host: str) -> None:
    assert origin_allowed(origin, scope(host))


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:9999", "localhost:8000"),  # another app on the same machine
        ("http://localhost", "localhost:8000"),
        ("https://localhost:8000", "localhost:8000"),  # another scheme is another site
        ("http://evil.example", "localhost:8000"),
        ("http://evil.example", "evil.example"),  # a Host outside ALLOWED_HOSTS
        ("null", "localhost:8000"),
        ("http://[", "localhost:8000"),
        ("http://localhost:99999", "localhost:8000"),
        ("ftp://localhost:8000", "localhost:8000"),
        ("http://localhost:8000", ""),
    ],
)
def test_any_other_origin_is_refused(origin: str, host: str) -> None:
    assert not origin_allowed(origin, scope(host))


def test_a_secure_socket_wants_an_https_page(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["gw.example.com"]
    assert origin_allowed("https://gw.example.com", scope("gw.example.com", scheme="wss"))
    assert not origin_allowed("http://gw.example.com", scope("gw.example.com", scheme="wss"))


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["gw.example.com"]
    behind = scope("gw.example.com", x_forwarded_proto="https")
    assert not origin_allowed("https://gw.example.com", behind)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert origin_allowed("https://gw.example.com", behind)
    assert not origin_allowed("http://gw.example.com", behind)


def test_csrf_trusted_origins_are_trusted_exactly_or_by_subdomain_pattern(settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://panel.example.com", "https://*.example.org"]
    assert origin_allowed("https://panel.example.com", scope("localhost:8000"))
    assert origin_allowed("https://a.example.org", scope("localhost:8000"))
    assert not origin_allowed("http://panel.example.com", scope("localhost:8000"))
    assert not origin_allowed("https://panel.example.com:8443", scope("localhost:8000"))
    assert not origin_allowed("https://example.org.evil.com", scope("localhost:8000"))


async def handshake(instance: Instance, token: str, origin: bytes | None, host: bytes) -> bool:
    headers = [(b"host", host)] + ([(b"origin", origin)] if origin else [])
    comm = WebsocketCommunicator(
        application, f"/ws/instances/{instance.instance_id}/?access_token={token}", headers=headers
    )
    connected, _ = await comm.connect()
    await comm.disconnect()
    return connected


async def test_another_port_on_localhost_is_refused_by_the_asgi_stack(
    instance: Instance, owner_token: str
) -> None:
    assert not await handshake(instance, owner_token, b"http://localhost:9999", b"localhost:8000")


async def test_the_same_origin_and_a_script_without_one_are_let_in(
    instance: Instance, owner_token: str
) -> None:
    assert await handshake(instance, owner_token, b"http://localhost:8000", b"localhost:8000")
    assert await handshake(instance, owner_token, None, b"localhost:8000")
