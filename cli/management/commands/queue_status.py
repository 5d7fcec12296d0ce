from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from instances.models import Instance
from kernel.commands import WaziperCommand
from queueing.stats import queue_status


class Command(WaziperCommand):
    help = "Print one instance's queue: the same figures as GET /queue-status/<instance_id>."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("instance_id")

    def handle(self, *args: Any, **options: Any) -> None:
        instance = Instance.objects.filter(instance_id=options["instance_id"].strip().upper()).first()
        if instance is None:
            raise CommandError(f"No instance {options['instance_id']!r}.")
        data = queue_status(instance, timezone.now())
        counts = "  ".join(f"{status} {n}" for status, n in data["counts"].items())
        age = data["oldest_queued_age_s"]
        rate = data["success_rate"]
        lines = [
            f"instance        {data['instance_id']}",
            f"messages        {data['total']} ({data['pending']} pending)",
            f"by status       {counts}",
            f"oldest queued   {f'{age:.0f}s ago' if age is not None else '-'}",
            f"paused          {'yes: ' + data['paused_reason'] if data['paused'] else 'no'}",
            f"next send       {data['next_send_at'] or '-'}",
            f"send delay      {data['send_delay']['min_s']:g}-{data['send_delay']['max_s']:g}s",
            f"success rate    {f'{rate:.1%}' if rate is not None else '-'}",
        ]
        self.report("\n".join(lines), data)
