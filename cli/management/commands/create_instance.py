from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from instances import service as instances_service
from kernel.commands import WaziperCommand


class Command(WaziperCommand):
    help = "Create a WhatsApp instance for an existing user and print its instance_id."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--owner", required=True, help="Username of the owner (see create_token)")
        parser.add_argument(
            "--instance-id",
            default=None,
            help="Use this id (13 hexadecimal characters, e.g. one a Waziper deployment uses)",
        )
        parser.add_argument("--name", default="")
        parser.add_argument("--transport", default=None, help="neonize (default) or sandbox")
        parser.add_argument("--proxy", default="", help="e.g. socks5://127.0.0.1:1080")
        parser.add_argument(
            "--sandbox", default="", help='Simulated phone behaviour, e.g. \'{"connect": "fail"}\''
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        owner = User.objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(
                f"No user {options['owner']!r}; create one with `manage.py create_token USER`."
            )
        sandbox: Any = {}
        if options["sandbox"]:
            try:
                sandbox = json.loads(options["sandbox"])
            except ValueError as exc:
                raise CommandError(f"--sandbox is not valid JSON: {exc}") from None
        try:
            instance = instances_service.create_instance(
                owner,
                name=options["name"],
                transport=options["transport"],
                proxy_url=options["proxy"],
                sandbox=sandbox,
                instance_id=options["instance_id"],
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(problems) from None
        except (instances_service.InstanceLimitReached, instances_service.InstanceIdTaken) as exc:
            raise CommandError(str(exc)) from None
        self.report(
            instance.instance_id,
            {
                "instance_id": instance.instance_id,
                "name": instance.name,
                "owner": owner.username,
                "transport": instance.transport,
                "proxy_url": instance.proxy_url,
                "sandbox": instance.sandbox,
            },
        )
