"""Request body parsers."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested deeper than Python's json module can follow is a 400
    like any other malformed JSON: the module raises RecursionError there, not ValueError, and
    DRF lets that through as a 500 (for anyone: the body is parsed while looking for a token)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
