from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from instances.models import AccessToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(django_user_model: Any) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("boss", "b@example.com", None))
    return client


def test_revoke_action_revokes_and_the_token_stops_working(admin_client_: Client, owner: Any) -> None:
    token, raw = AccessToken.objects.issue(owner)
    response = admin_client_.post(
        "/admin/instances/accesstoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]}
    )
    assert response.status_code == 302
    assert AccessToken.objects.authenticate(raw) is None


def test_token_owner_and_revocation_cannot_be_edited(
    admin_client_: Client, owner: Any, stranger: Any
) -> None:
    token, _ = AccessToken.objects.issue(owner)
    token.revoke()
    admin_client_.post(
        f"/admin/instances/accesstoken/{token.pk}/change/",
        {"name": "x", "user": stranger.pk, "revoked_at": ""},
    )
    token.refresh_from_db()
    assert token.user == owner
    assert token.revoked_at is not None
