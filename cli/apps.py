from __future__ import annotations

from django.apps import AppConfig


class CliConfig(AppConfig):
    """The operators' management commands (each prints for people, or one JSON object)."""

    name = "cli"
    verbose_name = "Commands"
