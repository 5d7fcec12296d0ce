from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from breaker import service as breaker_service
from breaker.models import BreakerState
from instances.models import Instance
from kernel.commands import WaziperCommand


class Command(WaziperCommand):
    help = "Show circuit breakers: one instance in detail, or every instance in a table."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("instance_id", nargs="?", metavar="ID")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["instance_id"]:
            instance = Instance.objects.filter(instance_id=options["instance_id"].strip().upper()).first()
            if instance is None:
                raise CommandError(f"Unknown instance id: {options['instance_id']}")
            data = breaker_service.status(instance, now=now)
            text = "\n".join(
                [
                    f"{instance.instance_id}: {data['state']} ({instance.status})",
                    f"  failures in window  {data['failures_in_window']}/{data['threshold']}"
                    f" in {data['window_s']:g}s",
                    f"  in a row            {data['consecutive_failures']}",
                    f"  open until          {data['open_until'] or '-'}",
                    f"  retry attempts      {data['retry_attempts']}",
                ]
                + [
                    f"  {f['at']}  {f['kind']}: {f['detail'][:100]}"
                    for f in data["recent_failure_events"][:5]
                ]
            )
            self.report(text, data)
            return
        rows = []
        states = {s.instance_id: s for s in BreakerState.objects.all()}
        for instance in Instance.objects.order_by("instance_id"):
            state = states.get(instance.pk)
            rows.append(
                {
                    "instance_id": instance.instance_id,
                    "name": instance.name,
                    "state": state.state if state else "closed",
                    "status": instance.status,
                    "open_until": state.open_until.isoformat() if state and state.open_until else None,
                    "consecutive_failures": state.consecutive_failures if state else 0,
                }
            )
        text = "\n".join(
            f"{r['instance_id']}  {r['state']:<12} {r['status']:<13} {r['open_until'] or '':<33} {r['name']}"
            for r in rows
        )
        self.report(text or "No instances.", {"breakers": rows})
