from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import OperationalError, models
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger("waziper.auth")

TOKEN_PREFIX = "wzp_"
PREFIX_LENGTH = 12  # what the admin shows of a token, to tell tokens apart
# Writing last_used_at on every request would turn every API read into a database write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


class AccessTokenManager(models.Manager["AccessToken"]):
    def issue(self, user: User, name: str = "") -> tuple[AccessToken, str]:
        """Create a token for `user` and return it with the raw key, which is never stored."""
        raw_key = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = self.create(user=user, name=name, key_hash=hash_key(raw_key), prefix=raw_key[:PREFIX_LENGTH])
        return token, raw_key

    def import_key(self, user: User, raw_key: str, name: str = "") -> AccessToken:
        """Keep `raw_key`, a token a client already has (a Waziper team's token), for `user`.
        Only its hash is stored, as for every token; the shown prefix is at most a third of it,
        so a short key is not all but given away by the admin."""
        prefix = raw_key[: min(PREFIX_LENGTH, len(raw_key) // 3)]
        return self.create(user=user, name=name, key_hash=hash_key(raw_key), prefix=prefix)

    def authenticate(self, raw_key: str) -> AccessToken | None:
        """The live token whose key is `raw_key`, touching last_used_at at most once a minute."""
        if not raw_key or len(raw_key) > 200:
            return None
        token = (
            self.select_related("user")
            .filter(key_hash=hash_key(raw_key), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            return None
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            try:
                # Views and consumers run in autocommit: a failed UPDATE leaves no broken
                # transaction behind (a savepoint would cost two more queries per minute).
                type(token).objects.filter(pk=token.pk).update(last_used_at=now)
            except OperationalError as exc:
                # Bookkeeping only: a full disk or locked database must not turn every request
                # (reads included) into a 500; the request's own writes report it if they fail.
                logger.warning("could not record the use of token %s…: %s", token.prefix, exc)
            else:
                token.last_used_at = now
        return token


class AccessToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=12, editable=False, help_text="First characters, to tell tokens apart"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenManager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])
