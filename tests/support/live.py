"""Helpers for the live-update tests: a websocket to the real ASGI stack, session cookies."""

from __future__ import annotations

from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from live.relay import get_relay
from waziper_site.asgi import application

ORIGIN = (b"origin", b"http://localhost")


def session_cookie(user: Any) -> str:
    """A logged-in Django session for `user`, as the Cookie header a browser would send."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def communicator(path: str, cookie: str | None = None) -> WebsocketCommunicator:
    """A websocket through the same routing as production (origin check, session auth)."""
    headers = [ORIGIN, (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def frames_until(comm: WebsocketCommunicator, predicate, timeout: float = 5.0) -> list[dict]:
    """Receive frames until one satisfies `predicate`; return all received, that one last."""
    received: list[dict] = []
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        received.append(frame)
        if predicate(frame):
            return received


@pytest.fixture
def live_settings(settings: Any) -> Any:
    """A 10 ms relay tick and a fresh in-process channel layer for each test."""
    settings.WAZIPER_EVENT_POLL_MS = 10
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "live.layer.ThrottledInMemoryChannelLayer"}}
    return settings


@pytest.fixture
async def live(live_settings: Any) -> Any:
    """Tests that open sockets: the relay this test's loop started is stopped afterwards."""
    yield
    await get_relay().stop()
