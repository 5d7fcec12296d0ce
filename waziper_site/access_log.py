"""The access log: one line per HTTP request or websocket handshake on the `waziper.access`
logger, and never a secret in it.

Waziper's clients put their token in the query string (`?access_token=wzp_…`), where every
access log would keep it. So each line's query has the values of secret-looking keys (token,
password, secret, key, auth, session, signature, …) replaced, and anything shaped like one of
our tokens is replaced wherever it appears. The log is written by an ASGI middleware, so it is
the same under `manage.py serve`, plain `daphne` or any other ASGI server; daphne's own access
log (on by default when started as `daphne …`, or with `--access-log`) is redacted the same way.

Line: `<client> "<METHOD> <path?redacted query>" <status> <duration>ms`; a websocket's method
is WS and its status 101 when accepted, or 403 plus the close code when refused.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import unquote_plus

from kernel import clientaddr

logger = logging.getLogger("waziper.access")

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"token|passw|pwd|secret|key|auth|session|signature|sig$|credential|otp", re.I)
# Our access tokens (instances/models/token.py: "wzp_" + urlsafe base64), wherever they appear.
_TOKEN = re.compile(r"wzp_[A-Za-z0-9_\-%]+")


def redact_query(query: str) -> str:
    """`access_token=wzp_x&instance_id=6921B60FBF7D9` → `access_token=[redacted]&instance_id=…`."""
    parts = []
    for part in query.split("&"):
        key, sep, _value = part.partition("=")
        if sep and _SECRET_KEY.search(unquote_plus(key)):
            part = f"{key}={REDACTED}"
        parts.append(_TOKEN.sub(REDACTED, part))
    return "&".join(parts)


def redact_target(target: str) -> str:
    """A request target (path and query) with its secrets replaced."""
    path, sep, query = target.partition("?")
    return _TOKEN.sub(REDACTED, path) + (sep + redact_query(query) if sep else "")


def _target(scope: dict[str, Any]) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return redact_target(scope.get("path", "") + (f"?{query}" if query else ""))


class AccessLogMiddleware:
    """ASGI middleware writing the access log line of each HTTP request and websocket handshake."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") not in ("http", "websocket"):
            return await self.application(scope, receive, send)
        started = time.monotonic()
        outcome: dict[str, Any] = {"status": None, "logged": False}

        def write() -> None:
            if outcome["logged"]:
                return
            outcome["logged"] = True
            if not logger.isEnabledFor(logging.INFO):
                return
            method = scope.get("method", "GET") if scope["type"] == "http" else "WS"
            status = outcome["status"] if outcome["status"] is not None else "-"
            logger.info(
                '%s "%s %s" %s %.1fms',
                clientaddr.from_scope(scope),
                method,
                _target(scope),
                status,
                (time.monotonic() - started) * 1000,
            )

        async def logged_send(message: dict[str, Any]) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                outcome["status"] = message.get("status")
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                write()
            elif kind == "websocket.accept":
                outcome["status"] = 101
                write()
            elif kind == "websocket.close" and outcome["status"] is None:
                outcome["status"] = f"403 (close {message.get('code', 1000)})"
                write()

        try:
            return await self.application(scope, receive, logged_send)
        except BaseException:
            if outcome["status"] is None:
                outcome["status"] = 500
            raise
        finally:
            write()


def redact_daphne_access_log() -> None:
    """Make daphne's own access log (daphne.access.AccessLogGenerator, used by its command line
    at verbosity 1 or with --access-log) write redacted request targets. Importing daphne.access
    has no side effects (daphne.server would install a reactor)."""
    try:
        from daphne import access
    except ImportError:  # another ASGI server: nothing to redact
        return
    original = access.AccessLogGenerator.__call__
    if getattr(original, "redacts", False):
        return

    def redacting_call(self: Any, protocol: str, action: str, details: dict[str, Any]) -> Any:
        if isinstance(details, dict) and isinstance(details.get("path"), str):
            details = {**details, "path": redact_target(details["path"])}
        return original(self, protocol, action, details)

    redacting_call.redacts = True  # type: ignore[attr-defined]
    access.AccessLogGenerator.__call__ = redacting_call
