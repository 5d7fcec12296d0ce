"""Which websocket handshakes may reach the consumers, by their Origin header.

The check exists for browsers: without it, another site's page could open a socket that carries
the visitor's admin session cookie. A page's Origin must be this site exactly, by Django's own
CSRF rule for forms: the same scheme, host and port as the request (whose Host header must be
in ALLOWED_HOSTS; the scheme is https for `wss`, or behind a TLS proxy when DJANGO_HTTPS sets
SECURE_PROXY_SSL_HEADER), or an origin listed in CSRF_TRUSTED_ORIGINS (`https://*.example.com`
allows subdomains). So another port on the same host (any other local web app) is another site.
Where the admin's forms pass Django's CSRF check, the live page's socket passes this one.

Browsers always send Origin on a websocket, so a handshake without one is a script (an
integration using `?access_token=`), which could send any Origin it liked anyway: it passes to
authentication.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    values = [value for key, value in scope.get("headers", []) if key == name]
    return values[-1].decode("latin-1") if values else None


def _request_scheme(scope: dict[str, Any]) -> str:
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header, secure_value = proxy
        name = header.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        forwarded = _header(scope, name)
        if forwarded is not None and forwarded.split(",")[0].strip() == secure_value:
            return "https"
    return "http"


def _allowed_hosts() -> list[str]:
    # Django's default for a development server with none configured (HttpRequest.get_host).
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


def _site(parts: SplitResult) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None if unreadable."""
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port out of range or not a number
        return None
    if scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return scheme, parts.hostname.lower(), port


def origin_allowed(origin: str, scope: dict[str, Any]) -> bool:
    """Whether a page at `origin` may open this websocket (`scope`): see the module docstring."""
    try:
        parsed = urlsplit(origin.strip())
        site = _site(parsed)
    except ValueError:  # unbalanced brackets
        return False
    if site is None:
        return False
    host = _header(scope, b"host")
    if host:
        domain, _port = split_domain_port(host)
        if domain and validate_host(domain, _allowed_hosts()):
            try:
                request_site = _site(urlsplit(f"{_request_scheme(scope)}://{host}"))
            except ValueError:
                request_site = None
            if site == request_site:
                return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        trusted_parts = urlsplit(trusted)
        if "*" in trusted_parts.netloc:
            if trusted_parts.scheme.lower() == site[0] and is_same_domain(
                parsed.netloc.lower(), trusted_parts.netloc.lower().lstrip("*")
            ):
                return True
        elif _site(trusted_parts) == site:
            return True
    return False


class BrowserOriginValidator:
    """ASGI middleware: refuse a websocket handshake whose Origin is another site."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        origin = _header(scope, b"origin")
        if scope.get("type") != "websocket" or origin is None or origin_allowed(origin, scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def browser_origin_validator(application: Any) -> BrowserOriginValidator:
    return BrowserOriginValidator(application)
