"""`manage.py serve`: the embedded default — daphne in this process plus two supervised children,
the worker and the webhook deliverer."""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kernel.commands import describe_seconds
from webhooks import registry as deliverer_registry
from worker.supervisor import WorkerSupervisor, new_child_id


def startup_lines(*, with_worker: bool, with_deliverer: bool = False) -> list[str]:
    """The start-up lines operators of the Node Waziper server know, with the real figures."""
    lines = ["📨 Message Queue Manager initialized"]
    if with_worker:
        lines.append("🔄 Queue processor started (worker process)")
    if with_deliverer:
        lines.append("📮 Webhook deliverer started (its own process)")
    lines += [
        "🚀 WAZIPER initialized",
        f"📊 Circuit breaker threshold: {settings.WAZIPER_BREAKER_THRESHOLD} failures in "
        f"{describe_seconds(settings.WAZIPER_BREAKER_WINDOW)}",
        f"🧹 Session cleanup: Every {describe_seconds(settings.WAZIPER_CLEANUP_INTERVAL)}",
        f"🔄 Live check: Every {describe_seconds(settings.WAZIPER_LIVE_CHECK_INTERVAL)}",
    ]
    return lines


class Command(BaseCommand):
    help = (
        "Run the gateway: daphne (HTTP + websockets) and, unless --no-worker, a supervised worker "
        "and a supervised webhook deliverer."
    )
    requires_system_checks = "__all__"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Web only (run `run_worker` and `deliver_webhooks` elsewhere).",
        )
        parser.add_argument(
            "--no-deliverer",
            action="store_true",
            help="No webhook deliverer (run `deliver_webhooks` elsewhere).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # daphne.server installs Twisted's asyncio reactor on import; it must come first.
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from waziper_site.asgi import application

        host, port = options["host"], options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port {port} is not a TCP port")
        with_worker = not options["no_worker"]
        with_deliverer = with_worker and not options["no_deliverer"]
        for line in startup_lines(with_worker=with_worker, with_deliverer=with_deliverer):
            self.stdout.write(line)
        supervisors = []
        if with_worker:
            supervisors.append(WorkerSupervisor())
        if with_deliverer:
            # One name for every deliverer this serve starts: a successor takes back at once
            # what a killed one held, instead of waiting for its leases to lapse.
            deliverer_id = new_child_id().rsplit("-", 1)[0] + "-deliverer"
            supervisors.append(
                WorkerSupervisor(
                    command="deliver_webhooks",
                    id_option="--deliverer-id",
                    last_heartbeat=deliverer_registry.last_heartbeat,
                    child_ids=lambda: deliverer_id,
                    name="webhook deliverer",
                )
            )

        def ready() -> None:
            self.stdout.write(f"🌐 http://{host}:{port}/  (admin: /admin/, API docs: /api/docs/)")
            self.stdout.write("WAZIPER IS LIVE")
            sys.stdout.flush()

        server = Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
            ready_callable=ready,
            verbosity=0,
        )
        for supervisor in supervisors:
            supervisor.start()
        try:
            server.run()
        finally:
            for supervisor in supervisors:
                supervisor.stop()
