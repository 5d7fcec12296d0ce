"""Content negotiation that never refuses: Waziper's PHP client asks for
`text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8` and `json_decode`s whatever
comes back, and a browser or a script may ask for HTML alone. An API view answers JSON to all of
them rather than 406; a view with several renderers (the OpenAPI schema: YAML or JSON) still
picks the one asked for when it can."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class FirstRendererFallback(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        renderers = list(renderers)
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except exceptions.NotAcceptable:
            return renderers[0], renderers[0].media_type
