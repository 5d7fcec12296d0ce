from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from instances.models import Instance
from instances.service import request_sandbox_scan
from kernel.commands import WaziperCommand


class Command(WaziperCommand):
    help = "The sandbox instance's simulated phone scans the QR code it is shown."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("instance_id", metavar="ID")

    def handle(self, *args: Any, **options: Any) -> None:
        instance = Instance.objects.filter(instance_id=options["instance_id"].strip().upper()).first()
        if instance is None:
            raise CommandError(f"Unknown instance id: {options['instance_id']}")
        try:
            request_sandbox_scan(instance)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.report(
            f"📱 {instance.instance_id}: scan requested; the worker links it while a QR code is shown",
            {"instance_id": instance.instance_id, "scan_requested": True},
        )
