"""Throttles that every web process shares: token buckets (kernel/throttles.py) kept as rows of
ThrottleBucket in the database the processes already share.

* Requests per access token (per client address for a request without one), at
  WAZIPER_THROTTLE_RATE: `TokenRateThrottle`, the API's DRF throttle.
* Failed authentications per client address (kernel/clientaddr.py), at
  WAZIPER_AUTH_FAILURE_RATE: each bad or revoked token takes a token from the address's bucket,
  and an address whose bucket is empty is refused (429, Retry-After) before its token is even
  looked up, in the API, the websocket and live.json alike. A locked-out address learns nothing
  about the tokens it tries.

Each decision is one short transaction that locks the bucket's row (SQLite: the database's write
lock, taken at BEGIN), so two processes never both spend the last token. A database that cannot
record a request (locked past its timeout, full disk) lets the request through: the throttle
guards the service, it must not take it down.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from instances.models import AccessToken, ThrottleBucket
from kernel import clientaddr
from kernel.throttles import Bucket, Rate, take, wait_for_token

logger = logging.getLogger("waziper.throttle")


class AuthenticationThrottled(Exception):
    """The client's address has used up its failed authentications; `wait` seconds to go."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"too many failed authentications; retry in {wait:.0f} s")
        self.wait = wait


def request_rate() -> Rate:
    # Read per call (not at import) so operators' and tests' settings take effect.
    return Rate.parse(settings.WAZIPER_THROTTLE_RATE)


def failure_rate() -> Rate:
    return Rate.parse(settings.WAZIPER_AUTH_FAILURE_RATE)


def _state(row: ThrottleBucket | None) -> Bucket | None:
    return None if row is None else Bucket(row.tokens, row.updated_at)


def spend(key: str, rate: Rate, now: datetime | None = None) -> float:
    """Take one token from the bucket `key`: 0.0 if there was one, else the seconds to wait."""
    now = now or timezone.now()
    try:
        for _ in range(2):  # a second pass only if another process created the row meanwhile
            with transaction.atomic():
                row = ThrottleBucket.objects.select_for_update().filter(key=key).first()
                decision = take(_state(row), rate, now)
                if not decision.allowed:
                    return decision.wait_s
                new = decision.bucket
                if row is not None:
                    ThrottleBucket.objects.filter(pk=row.pk).update(
                        tokens=new.tokens, updated_at=new.updated_at
                    )
                    return 0.0
                try:
                    with transaction.atomic():
                        ThrottleBucket.objects.create(key=key, tokens=new.tokens, updated_at=new.updated_at)
                    return 0.0
                except IntegrityError:
                    continue
    except OperationalError as exc:
        logger.warning("throttle %s not recorded (request allowed): %s", key, exc)
    return 0.0


def wait_before(key: str, rate: Rate, now: datetime | None = None) -> float:
    """Seconds until the bucket `key` holds a token (0.0: now), without taking one."""
    now = now or timezone.now()
    try:
        row = ThrottleBucket.objects.filter(key=key).first()
    except OperationalError as exc:
        logger.warning("throttle %s not read (request allowed): %s", key, exc)
        return 0.0
    return wait_for_token(_state(row), rate, now)


def failure_key(client: str) -> str:
    return f"auth-failures:{client}"


def authenticate_token(raw_token: str, client: str | None) -> AccessToken | None:
    """`AccessToken.objects.authenticate`, under the failed-authentication throttle of the
    address `client` (None: a re-check of a token that already got in, not throttled)."""
    if client is None:
        return AccessToken.objects.authenticate(raw_token)
    rate = failure_rate()
    wait = wait_before(failure_key(client), rate)
    if wait > 0:
        raise AuthenticationThrottled(wait)
    token = AccessToken.objects.authenticate(raw_token)
    if token is None:
        spend(failure_key(client), rate)
    return token


class TokenRateThrottle(BaseThrottle):
    """WAZIPER_THROTTLE_RATE requests per access token (per client address without one), counted
    in the database so that every web process shares the budget."""

    def __init__(self) -> None:
        self.wait_s = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        token_pk = getattr(getattr(request, "auth", None), "pk", None)
        if token_pk:
            key = f"requests:token:{token_pk}"
        else:
            key = f"requests:address:{clientaddr.from_request(request)}"
        self.wait_s = spend(key, request_rate())
        return self.wait_s == 0

    def wait(self) -> float | None:
        return self.wait_s or None


def prune_buckets(now: datetime) -> int:
    """Drop buckets untouched for a whole period of the slower rate: they are full again, which
    is what a missing row means."""
    longest = max(request_rate().period_s, failure_rate().period_s)
    return ThrottleBucket.objects.filter(updated_at__lt=now - timedelta(seconds=longest)).delete()[0]
