from __future__ import annotations

from typing import Any

from kernel.commands import WaziperCommand
from operations.health import health_payload


class Command(WaziperCommand):
    help = "Print the same figures as GET /health."

    def handle(self, *args: Any, **options: Any) -> None:
        payload = health_payload()
        data = payload["data"]
        worker = data["worker"]
        lines = [
            f"health score         {data['health_score']}/100",
            f"instances            {data['total_instances']} ({data['active_connections']} connected, "
            f"{data['connecting']} connecting)",
            f"breakers open        {data['circuit_breaker_activations']}",
            f"retry attempts       {data['total_retry_attempts']}",
            f"recent failures      {data['total_recent_failures']}",
            f"queue depth          {data['queue']['depth']} ({data['queue']['uncertain']} uncertain)",
            f"worker               {'alive' if worker['alive'] else 'NOT ALIVE'}"
            + (f", last heartbeat {worker['last_heartbeat']}" if worker["last_heartbeat"] else ""),
        ]
        self.report("\n".join(lines), payload)
