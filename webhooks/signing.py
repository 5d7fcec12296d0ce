"""Standard Webhooks signatures, made by the `standardwebhooks` library (never by hand).

Each endpoint has a secret (`whsec_…`, 32 random bytes). After a rotation the previous secret
signs too until its overlap ends: `webhook-signature` then carries two signatures, and a receiver
that still holds the old secret verifies with it (the specification allows several).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
USER_AGENT = "waziper-webhooks/1.0"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signature(secrets_in_use: Iterable[str], webhook_id: str, timestamp: datetime, body: str) -> str:
    """The `webhook-signature` header: one `v1,…` per secret, space-separated."""
    moment = timestamp.astimezone(UTC)
    return " ".join(Webhook(secret).sign(webhook_id, moment, body) for secret in secrets_in_use)


def headers(secrets_in_use: Iterable[str], webhook_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """Every header of one attempt: the signature is over the id, this attempt's time and the body."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature(secrets_in_use, webhook_id, timestamp, body),
    }
