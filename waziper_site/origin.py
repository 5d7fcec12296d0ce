"""Which websocket handshakes may reach the consumers, by their Origin header.

The check exists for browsers: without it, another site's page could open a socket that carries
the visitor's admin session cookie. Browsers always send Origin on a websocket, so a handshake
without one is a script (an integration using `?access_token=`), which could send any Origin it
liked anyway; Channels' AllowedHostsOriginValidator refuses those, and raises (the handshake dies
with a traceback) on an Origin `urlparse` cannot read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator, WebsocketDenier


class BrowserOriginValidator(OriginValidator):
    """Origin must match ALLOWED_HOSTS when present; scripts without one pass to authentication."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        origins = [value for name, value in scope.get("headers", []) if name == b"origin"]
        if not origins:
            return await self.application(scope, receive, send)
        try:
            allowed = self.valid_origin(urlparse(origins[-1].decode("latin1")))
        except ValueError:  # unbalanced brackets, a port out of range
            allowed = False
        if allowed:
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def browser_origin_validator(application: Any) -> BrowserOriginValidator:
    """Channels' allowed origins (ALLOWED_HOSTS, with its DEBUG defaults) with the rule above."""
    return BrowserOriginValidator(application, AllowedHostsOriginValidator(application).allowed_origins)
