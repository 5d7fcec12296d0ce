"""The auth matrix every endpoint's test file runs, and the one way tests call as someone.

Callers: no token, a bad token, a revoked token, someone else (another tenant), the owner, staff
without permissions (a stranger to other tenants' instances), staff with only the view
permission (`viewer`), staff with the change permission (`operator`) and a superuser. Places a
Waziper client puts its token: the query string, a form body, a JSON body, an
`Authorization: Bearer` header (bodies only for methods that have one).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from instances.models import AccessToken

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BAD_TOKEN = "wzp_" + "x" * 43
# Staff users with these Instance permissions (codenames), made on demand by `token_for`.
PERMITTED = {"viewer": ("view_instance",), "operator": ("change_instance",)}


def auth_matrix(
    method: str,
    *,
    ok: int,
    stranger: int = 404,
    action: Literal["view", "change", "delete", None] = "view",
) -> Any:
    """`@auth_matrix("GET", ok=200, action="view")`: parametrize a test over (who, where,
    expected status). `action` is what the endpoint does to the instance (None: it names none,
    as listing and creating). Staff without permissions fare as a stranger; a viewer may view
    but is refused (403) anything else; an operator may view and change; a superuser anything."""
    places = ["query", "bearer"] + (["form", "json"] if method in BODY_METHODS else [])
    refused = stranger if action is None else 403
    cases = [
        ("nobody", "query", 401),
        ("bad", "query", 401),
        ("bad", "bearer", 401),
        ("revoked", "query", 401),
        ("revoked", "bearer", 401),
        ("stranger", "query", stranger),
        ("stranger", "bearer", stranger),
        ("staff", "query", stranger),
        ("staff", "bearer", stranger),
        ("viewer", "query", ok if action in ("view", None) else refused),
        ("operator", "query", ok if action in ("view", "change", None) else refused),
        ("superuser", "query", ok),
        ("superuser", "bearer", ok),
        *[("owner", place, ok) for place in places],
    ]
    return pytest.mark.parametrize(
        ("who", "where", "expected"), [pytest.param(*case, id=f"{case[0]}-{case[1]}") for case in cases]
    )


def staff_with(username: str, *codenames: str) -> Any:
    """A staff user holding these `instances` permissions (none: staff who may do nothing)."""
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="instances", codename__in=codenames)
    )
    return user


def user_for(request: pytest.FixtureRequest, who: str) -> Any:
    """One of the conftest users (`owner`, `stranger`, `staff`), `superuser`, or a staff user
    with the permissions PERMITTED names."""
    if who in PERMITTED:
        return staff_with(who, *PERMITTED[who])
    if who == "superuser":
        return request.getfixturevalue("admin_user")
    return request.getfixturevalue(who)


def token_for(request: pytest.FixtureRequest, who: str) -> str | None:
    """A raw token for `user_for(who)`, or a bad, revoked or no token."""
    if who == "nobody":
        return None
    if who == "bad":
        return BAD_TOKEN
    if who == "revoked":
        token, raw = AccessToken.objects.issue(request.getfixturevalue("owner"), name="revoked")
        token.revoke()
        return raw
    return AccessToken.objects.issue(user_for(request, who), name=who)[1]


def call_as(
    request: pytest.FixtureRequest,
    who: str,
    where: str,
    method: str,
    path: str,
    *,
    query: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
) -> Any:
    """Call `path` as `who` with the token `where` a client would put it.

    `query` always goes in the query string; `body` is sent as JSON, or as a form when the
    token travels in a form body.
    """
    token = token_for(request, who)
    query = dict(query or {})
    body = dict(body or {})
    client = APIClient()
    if token is not None:
        if where == "query":
            query["access_token"] = token
        elif where == "bearer":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        else:
            body["access_token"] = token
    url = f"{path}?{urlencode(query)}" if query else path
    send = getattr(client, method.lower())
    if method not in BODY_METHODS:
        return send(url)
    if where == "form":
        return send(url, urlencode(body), content_type="application/x-www-form-urlencoded")
    return send(url, body, format="json") if body else send(url)


def assert_auth_outcome(response: Any, expected: int) -> None:
    """The status, and the error envelope whenever it is an error."""
    assert response.status_code == expected, response.content
    body = response.json()
    assert body["status"] == ("success" if expected < 400 else "error")
    if expected == 401:
        assert body["message"] == "The authentication process has failed"
        assert body["reason"] in (
            "Authentication credentials were not provided.",
            "Invalid or revoked access token.",
        )
    if expected == 404:
        assert body == {
            "status": "error",
            "message": "The Instance ID provided has been invalidated",
            "reason": "No instance with this id, or not one you may view.",
        }
    if expected == 403:
        assert "permission" in body["message"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Users created with a password hash it with a cheap hasher (other test modules import
    this fixture; the conftest users have no password any more)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
