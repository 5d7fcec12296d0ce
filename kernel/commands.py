"""Shared shape of waziper's management commands: a line for people, `--json` for scripts."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class WaziperCommand(BaseCommand):
    """Subclasses call `self.report(text, data)`: `text` for people, `data` as one JSON object."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of text.")

    def execute(self, *args: Any, **options: Any) -> Any:
        self.as_json = bool(options.get("json"))
        return super().execute(*args, **options)

    def report(self, text: str, data: dict[str, Any]) -> None:
        if self.as_json:
            self.stdout.write(json.dumps(data, default=str, sort_keys=True))
        else:
            self.stdout.write(text)


def describe_seconds(seconds: float) -> str:
    """300 → '5 minutes', 90 → '90 seconds', 0.2 → '0.2 seconds' (for start-up lines)."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:g} second{'s' if seconds != 1 else ''}"
