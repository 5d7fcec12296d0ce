from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from instances.models import AccessToken
from kernel.commands import WaziperCommand


class Command(WaziperCommand):
    help = "Create an API access token for USER (creating the user if missing). The token is shown once."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("user", help="Username that will own the token")
        parser.add_argument("--name", default="", help="A label for the token (e.g. the integration)")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["user"].strip()
        if not username or len(username) > 150:
            raise CommandError("USER must be 1 to 150 characters.")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; activate it in the admin first.")
        token, raw_key = AccessToken.objects.issue(user, name=options["name"][:100])
        self.report(
            f"{raw_key}\n(token for {username}{', new user' if created else ''}; "
            "shown once — store it now, only its hash is kept)",
            {"token": raw_key, "user": username, "prefix": token.prefix, "user_created": created},
        )
