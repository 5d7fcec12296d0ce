from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandParser

from kernel.commands import WaziperCommand


class Command(WaziperCommand):
    help = "Create the first admin account with a random password (printed once); no-op if one exists."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            if self.as_json:
                self.report("", {"created": False})
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=options["username"], email="", password=password)
        self.report(
            f"Created admin account '{options['username']}' with password: {password}\n"
            "(shown once; change it at /admin/password_change/ or with "
            f"`manage.py changepassword {options['username']}`)",
            {"created": True, "username": options["username"], "password": password},
        )
