from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from cli.sandbox_phone import notify
from instances import sandbox_phone
from kernel.commands import WaziperCommand


class Command(WaziperCommand):
    help = (
        "A contact of the sandbox instance's simulated phone sets or removes its profile picture: "
        "the worker reports it (contact.updated) while the instance is connected, or once it connects."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("instance_id", metavar="ID")
        parser.add_argument(
            "--from", dest="sender", required=True, metavar="PHONE", help="the contact's number"
        )
        parser.add_argument(
            "--picture", choices=sandbox_phone.PICTURE_CHANGES, default="changed", help="changed (default)"
        )
        parser.add_argument("--lid", action="store_true", default=None, help="the contact's number is hidden")

    def handle(self, *args: Any, **options: Any) -> None:
        data = {"from": options["sender"], "picture": options["picture"]}
        if options.get("lid"):
            data["lid"] = True
        notify(self, options["instance_id"], sandbox_phone.CONTACT_UPDATE, data)
