from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from breaker.models import BreakerReset, BreakerState
from breaker.stats import OPEN_STATES
from instances.models import Instance
from kernel.commands import WaziperCommand
from operations import control


class Command(WaziperCommand):
    help = "Close circuit breakers by hand (recorded with who and why; failure history is kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("instance_ids", nargs="*", metavar="ID")
        parser.add_argument("--all", action="store_true", help="Every instance whose breaker is open")
        parser.add_argument("--reason", default="manual reset from the command line")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = [value.strip().upper() for value in options["instance_ids"]]
        if bool(ids) == bool(options["all"]):
            raise CommandError("Give instance ids or --all (not both).")
        if options["all"]:
            instances = list(Instance.objects.filter(breaker__state__in=OPEN_STATES))
        else:
            instances = list(Instance.objects.filter(instance_id__in=ids))
            missing = sorted(set(ids) - {i.instance_id for i in instances})
            if missing:
                raise CommandError(f"Unknown instance id(s): {', '.join(missing)}")
        now = timezone.now()
        actor = f"command:{getpass.getuser()}"
        records: list[BreakerReset] = []
        for instance in instances:
            records.append(
                control.reset_breaker_and_wake(
                    instance,
                    source=BreakerReset.Source.COMMAND,
                    now=now,
                    actor=actor,
                    reason=options["reason"],
                )
            )
        lines = [f"🔄 {r.instance.instance_id}: {r.previous_state} → closed" for r in records]
        self.report(
            "\n".join(lines) or "No open breakers.",
            {
                "reset": [
                    {"instance_id": r.instance.instance_id, "previous_state": r.previous_state}
                    for r in records
                ],
                "state": BreakerState.State.CLOSED,
            },
        )
