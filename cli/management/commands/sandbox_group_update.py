from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from cli.sandbox_phone import notify
from instances import sandbox_phone
from kernel.commands import WaziperCommand


class Command(WaziperCommand):
    help = (
        "A contact of the sandbox instance's simulated phone changes a group the account is in: "
        "the worker reports it (group.updated) while the instance is connected, or once it connects."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("instance_id", metavar="ID")
        parser.add_argument("--group", required=True, metavar="JID", help="the group (…@g.us)")
        parser.add_argument("--by", metavar="PHONE", help="the contact who changes it")
        parser.add_argument("--name", help="a new name")
        parser.add_argument("--description", help='a new description ("" removes it)')
        for flag, meaning in (("announce", "only admins send"), ("locked", "only admins edit its info")):
            parser.add_argument(f"--{flag}", choices=("on", "off"), help=meaning)
        for verb in sandbox_phone.PARTICIPANT_CHANGES:
            parser.add_argument(
                f"--{verb}", action="append", metavar="PHONE", help=f"a participant to {verb} (repeat)"
            )

    def handle(self, *args: Any, **options: Any) -> None:
        names = ["group", "by", "name", "description", "announce", "locked"]
        names.extend(sandbox_phone.PARTICIPANT_CHANGES)
        data = {name: options[name] for name in names if options.get(name) is not None}
        notify(self, options["instance_id"], sandbox_phone.GROUP_UPDATE, data)
