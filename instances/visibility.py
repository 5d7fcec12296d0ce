"""Who may watch an instance live: its owner or staff, by Django session or `access_token`.

Shared by the websocket consumer and the JSON snapshot the page polls when websockets fail, so
both refuse the same people the same way. Someone else's instance looks exactly like a missing
one, as in the API (existence never leaks).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import auth

from instances.models import AccessToken, Instance, is_instance_id

# Websocket close codes (4000–4999 are the application's): HTTP's status plus 4000.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


@dataclass(frozen=True)
class Access:
    instance: Instance | None
    refusal: int | None  # a close code; None when allowed
    user: Any = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def authorize(user: Any, raw_token: str | None, instance_id: str) -> Access:
    """Decide whether `user` (or the token's owner, if a token is given) may watch `instance_id`.

    An explicit token wins over the session, and a bad one is refused even with a session: a
    script that passes a revoked token must find out.
    """
    if raw_token is not None:
        token = AccessToken.objects.authenticate(raw_token)
        if token is None:
            return Access(None, CLOSE_UNAUTHENTICATED)
        user = token.user
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Access(None, CLOSE_UNAUTHENTICATED)
    normalized = (instance_id or "").strip().upper()
    if not is_instance_id(normalized):
        return Access(None, CLOSE_NOT_FOUND, user)
    instance = Instance.objects.visible_to(user).filter(instance_id=normalized).first()
    if instance is None:
        return Access(None, CLOSE_NOT_FOUND, user)
    return Access(instance, None, user)


def recheck(session_key: str | None, raw_token: str | None, instance_id: str) -> Access:
    """`authorize` again for a socket that is already open, from the database rather than from
    what it was let in with: the token may have been revoked, the session logged out (or
    invalidated by a password change), the user deactivated or the instance given away since."""
    user = None
    if raw_token is None and session_key:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        user = auth.get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    return authorize(user, raw_token, instance_id)
