"""`manage.py run_worker`: one worker process (scale-out: run any number, on any machines)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client import start_http_server

from kernel.commands import describe_seconds
from worker.loop import Worker
from worker.sessionhost.store import make_private


class Command(BaseCommand):
    help = "Hold WhatsApp sessions for running instances: connect, reconnect, dispatch the queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--capacity", type=int, default=None, help="Most instances this worker holds")
        parser.add_argument(
            "--worker-id", default=None, help="Name in leases and /health (default host-pid-rand)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        capacity = options["capacity"]
        if capacity is not None and capacity < 1:
            raise CommandError("--capacity must be at least 1")
        worker = Worker(worker_id=options["worker_id"], capacity=capacity)
        if os.path.isdir(settings.WAZIPER_SESSIONS_DIR):
            # Stores written before the session host set its umask: 0700/0600 before any is used.
            make_private(settings.WAZIPER_SESSIONS_DIR)

        def stop(signum: int, frame: Any) -> None:
            # Only a flag: the loop finishes its step, then releases leases and closes sessions.
            worker.shutdown_requested = True

        if settings.WAZIPER_WORKER_METRICS_PORT:
            # This worker's counters (breaker transitions, failures, sends) for Prometheus.
            start_http_server(settings.WAZIPER_WORKER_METRICS_PORT, addr="127.0.0.1")
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(
            f"🔄 Queue processor started (worker {worker.worker_id}, capacity {worker.capacity}, "
            f"transports: {', '.join(sorted(worker.transports))})"
        )
        self.stdout.write(
            f"📊 Circuit breaker threshold: {settings.WAZIPER_BREAKER_THRESHOLD} failures in "
            f"{describe_seconds(settings.WAZIPER_BREAKER_WINDOW)}; live check every "
            f"{describe_seconds(settings.WAZIPER_LIVE_CHECK_INTERVAL)}, cleanup every "
            f"{describe_seconds(settings.WAZIPER_CLEANUP_INTERVAL)}"
        )
        sys.stdout.flush()
        worker.run()
        self.stdout.write(f"worker {worker.worker_id} stopped")
