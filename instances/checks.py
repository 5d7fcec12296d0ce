"""System checks: configuration that parses but cannot work together."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import Warning, register


@register()
def check_sessions_dir(app_configs: Any, **kwargs: Any) -> list[Warning]:
    path = settings.WAZIPER_SESSIONS_DIR
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return [Warning(f"WAZIPER_SESSIONS_DIR {path} is not writable", id="waziper.W001")]
    return []


@register()
def check_retry_schedule_fits_window(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """With the defaults, an instance failing every attempt must trip inside the window."""
    threshold = settings.WAZIPER_BREAKER_THRESHOLD
    worst = sum(
        min(settings.WAZIPER_RETRY_CAP, settings.WAZIPER_RETRY_BASE * 2**n) for n in range(threshold - 1)
    )
    if worst > settings.WAZIPER_BREAKER_WINDOW:
        return [
            Warning(
                f"{threshold} fast failures may take up to {worst:g}s with WAZIPER_RETRY_BASE/CAP, "
                f"longer than WAZIPER_BREAKER_WINDOW={settings.WAZIPER_BREAKER_WINDOW:g}s; the window "
                "rule may never trip (the consecutive-failure rule still will).",
                id="waziper.W002",
            )
        ]
    return []
