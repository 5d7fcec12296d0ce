from __future__ import annotations

from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = "WhatsApp instances"

    def ready(self) -> None:
        from instances import checks  # noqa: F401  (registers system checks)
