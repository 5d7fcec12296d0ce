"""Cross-origin access as Waziper's server answers it (django-cors-headers): any origin by
default, configurable, never with credentials, and never for the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from instances.models import Instance

pytestmark = pytest.mark.django_db
ORIGIN = "https://panel.example"


def test_a_simple_request_from_another_origin_is_allowed(owner_token: str, instance: Instance) -> None:
    response = APIClient().get(
        "/instance",
        {"instance_id": instance.instance_id, "access_token": owner_token},
        headers={"Origin": ORIGIN},
    )
    assert response["Access-Control-Allow-Origin"] == "*"


def test_cross_origin_access_never_comes_with_credentials(owner_token: str, instance: Instance) -> None:
    response = APIClient().get(
        "/instance",
        {"instance_id": instance.instance_id, "access_token": owner_token},
        headers={"Origin": ORIGIN},
    )
    assert "Access-Control-Allow-Credentials" not in response


def test_a_preflight_is_answered_for_a_json_post(api: APIClient) -> None:
    response = api.options(
        "/send_message",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization, idempotency-key",
        },
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "authorization", "idempotency-key"} <= allowed
    assert "Access-Control-Allow-Credentials" not in response


def test_a_client_may_read_retry_after(api: APIClient) -> None:
    response = api.get("/health", headers={"Origin": ORIGIN})
    assert response["Access-Control-Expose-Headers"] == "Retry-After"


def test_the_admin_is_not_offered_to_other_origins(api: APIClient) -> None:
    response = api.get("/admin/login/", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOW_ALL_ORIGINS=False, CORS_ALLOWED_ORIGINS=["https://app.example.com"])
@pytest.mark.parametrize(("origin", "allowed"), [("https://app.example.com", True), (ORIGIN, False)])
def test_configured_origins_only(api: APIClient, origin: str, allowed: bool, settings: Any) -> None:
    response = api.get("/health", headers={"Origin": origin})
    assert ("Access-Control-Allow-Origin" in response) is allowed
