#!/usr/bin/env python
"""Django's command-line utility for waziper."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "waziper_site.settings")
    from django.core.management import execute_from_command_line

    from waziper_site.config import SettingsError

    try:
        execute_from_command_line(sys.argv)
    except SettingsError as exc:
        # A bad environment variable is an operator's mistake, not a crash: one line, exit 1.
        print(f"Configuration error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
