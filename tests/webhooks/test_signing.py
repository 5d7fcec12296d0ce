"""webhooks.signing: what receivers verify with the standardwebhooks library."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from webhooks import signing

BODY = '{"type":"webhook.test","timestamp":"2026-01-01T12:00:00Z","data":{}}'


def test_a_new_secret_is_a_standard_whsec_secret_of_32_bytes() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    assert len(Webhook(secret)._whsecret) == 32


def test_the_headers_verify_with_the_secret() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "evt_1", datetime.now(UTC), BODY)
    assert Webhook(secret).verify(BODY, headers)["type"] == "webhook.test"


def test_during_a_rotation_both_secrets_verify() -> None:
    new, old = signing.new_secret(), signing.new_secret()
    headers = signing.headers([new, old], "evt_1", datetime.now(UTC), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers)
    assert Webhook(new).verify(BODY, headers)


def test_another_secret_or_a_changed_body_does_not_verify() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "evt_1", datetime.now(UTC), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("{}", '{"x":1}'), headers)
