from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The fan-out runs inside the transaction of every outbox event (instances/events.py);
        # instances cannot import this app, so this app hands it its listener.
        from instances.events import add_listener
        from webhooks.fanout import fan_out

        add_listener(fan_out)
