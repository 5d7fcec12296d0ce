"""`manage.py deliver_webhooks`: one webhook deliverer process (`serve` runs one; run more anywhere)."""

from __future__ import annotations

import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from webhooks.deliverer import Deliverer


class Command(BaseCommand):
    help = "Post due webhook deliveries and record the outcomes (runs until SIGTERM)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--deliverer-id",
            default=None,
            help="Name in leases and heartbeats (default host-pid-rand). A deliverer started under "
            "the name of one that died takes back the deliveries it held at once.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        deliverer = Deliverer(options["deliverer_id"])

        def stop(signum: int, frame: Any) -> None:
            deliverer.shutdown_requested = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(
            f"📮 Webhook deliverer started ({deliverer.deliverer_id}: {deliverer.concurrency} threads, "
            f"{deliverer.per_endpoint} per endpoint, timeout {settings.WAZIPER_WEBHOOK_TIMEOUT:g}s)"
        )
        sys.stdout.flush()
        deliverer.run()
        self.stdout.write(f"webhook deliverer {deliverer.deliverer_id} stopped")
