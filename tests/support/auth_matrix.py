"""The auth matrix every endpoint's test file runs, and the one way tests call as someone.

Callers: no token, a bad token, a revoked token, someone else (another tenant), the owner and
staff. Places a Waziper client puts its token: the query string, a form body, a JSON body, an
`Authorization: Bearer` header (bodies only for methods that have one).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from rest_framework.test import APIClient

from instances.models import AccessToken

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
BAD_TOKEN = "wzp_" + "x" * 43


def auth_matrix(method: str, *, ok: int, stranger: int = 404) -> Any:
    """`@auth_matrix("GET", ok=200)`: parametrize a test over (who, where, expected status)."""
    places = ["query", "bearer"] + (["form", "json"] if method in BODY_METHODS else [])
    cases = [
        ("nobody", "query", 401),
        ("bad", "query", 401),
        ("bad", "bearer", 401),
        ("revoked", "query", 401),
        ("revoked", "bearer", 401),
        ("stranger", "query", stranger),
        ("stranger", "bearer", stranger),
        ("staff", "query", ok),
        *[("owner", place, ok) for place in places],
    ]
    return pytest.mark.parametrize(
        ("who", "where", "expected"), [pytest.param(*case, id=f"{case[0]}-{case[1]}") for case in cases]
    )


def token_for(request: pytest.FixtureRequest, who: str) -> str | None:
    """A raw token for one of the conftest users (`owner`, `stranger`, `staff`), or a bad one."""
    if who == "nobody":
        return None
    if who == "bad":
        return BAD_TOKEN
    if who == "revoked":
        token, raw = AccessToken.objects.issue(request.getfixturevalue("owner"), name="revoked")
        token.revoke()
        return raw
    return AccessToken.objects.issue(request.getfixturevalue(who), name=who)[1]


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
        assert body["message"] in (
            "Authentication credentials were not provided.",
            "Invalid or revoked access token.",
        )
    if expected == 404:
        assert body == {"status": "error", "message": "Instance not found."}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Users created with a password hash it with a cheap hasher (other test modules import
    this fixture; the conftest users have no password any more)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
