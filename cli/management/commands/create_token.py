from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from instances.models import AccessToken
from instances.models.token import hash_key
from instances.validation import validate_imported_token
from kernel.commands import WaziperCommand


class Command(WaziperCommand):
    help = (
        "Create an API access token for USER (creating the user if missing). The token is shown once. "
        "With --token, keep a token the clients already have instead (a Waziper team's token)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("user", help="Username that will own the token")
        parser.add_argument("--name", default="", help="A label for the token (e.g. the integration)")
        parser.add_argument(
            "--token",
            default=None,
            metavar="VALUE",
            help="Import this existing token (only its hash is kept); `-` reads it from stdin, "
            "which keeps it out of the shell history and the process list",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["user"].strip()
        if not username or len(username) > 150:
            raise CommandError("USER must be 1 to 150 characters.")
        imported = self._imported(options["token"])
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive; activate it in the admin first.")
        name = options["name"][:100]
        if imported is not None:
            token = AccessToken.objects.import_key(user, imported, name=name)
            self.report(
                f"imported token {token.prefix}… for {username}{', new user' if created else ''} "
                "(only its hash is kept)",
                {"user": username, "prefix": token.prefix, "user_created": created, "imported": True},
            )
            return
        token, raw_key = AccessToken.objects.issue(user, name=name)
        self.report(
            f"{raw_key}\n(token for {username}{', new user' if created else ''}; "
            "shown once — store it now, only its hash is kept)",
            {"token": raw_key, "user": username, "prefix": token.prefix, "user_created": created},
        )

    def _imported(self, value: str | None) -> str | None:
        if value is None:
            return None
        if value == "-":
            value = sys.stdin.readline().strip()
        try:
            value = validate_imported_token(value)
        except ValidationError as exc:
            raise CommandError(f"--token: {exc.messages[0]}") from None
        if AccessToken.objects.filter(key_hash=hash_key(value)).exists():
            raise CommandError("--token: this token is in use already; each token belongs to one user.")
        return value
