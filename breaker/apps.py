from __future__ import annotations

from django.apps import AppConfig


class BreakerConfig(AppConfig):
    name = "breaker"
    verbose_name = "Circuit breakers"
