"""Paths matched as Waziper's Express server matches them: a trailing slash and letter case do
not matter (`/Instance/` is `/instance`, `/queue-status/ABC/` is `/queue-status/ABC`).

Django matches paths exactly, and `APPEND_SLASH` would answer a redirect, which a POST loses its
body through. So a path that matches no route as sent is tried again without its trailing slash
and in lower case, and used in that form if it then matches. Path parameters lose their case
too; every one is case-insensitive here (instance ids are compared upper-case, message ids are
UUIDs). The admin, the OpenAPI schema and docs, static files and websockets are left exactly as
they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_urlconf, resolve

UNTOUCHED_PREFIXES = ("/admin", "/api/schema", "/api/docs", "/static", "/ws/")


def _matches(path: str) -> bool:
    try:
        resolve(path, get_urlconf())
    except Resolver404:
        return False
    return True


# An id in a path (13 hex characters, a UUID) has capitals as a matter of course; no route's
# own words look like one.
_ID_SEGMENT = re.compile(r"^[0-9A-Fa-f-]{8,}$")


def _shouting(segment: str) -> bool:
    """A path segment in capitals that is not an id: a route's word written in another case."""
    return segment != segment.lower() and not _ID_SEGMENT.match(segment)


def waziper_form(path: str) -> str | None:
    """The form of `path` that a route matches when the path as sent matches none, or None."""
    if path == "/" or path.lower().startswith(UNTOUCHED_PREFIXES):
        return None
    if not (path.endswith("/") or any(_shouting(segment) for segment in path.split("/"))):
        return None  # nothing to change: the common case costs no lookup
    if _matches(path):
        return None
    candidate = path.rstrip("/").lower() or "/"
    return candidate if candidate != path and _matches(candidate) else None


class WaziperPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rewritten = waziper_form(request.path_info)
        if rewritten is not None:
            request.path_info = rewritten
            request.path = request.META.get("SCRIPT_NAME", "").rstrip("/") + rewritten
        return self.get_response(request)
