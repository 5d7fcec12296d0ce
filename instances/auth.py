"""API authentication: Waziper's `access_token` wherever its PHP front ends put it."""

from __future__ import annotations

import math
from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from instances import throttling
from instances.models import AccessToken
from kernel import clientaddr

TOKEN_FIELD = "access_token"


def token_from_request(request: Request) -> str | None:
    """The raw token from `Authorization: Bearer`, the query string, or a form/JSON body."""
    header = authentication.get_authorization_header(request).split()
    if header and header[0].lower() == b"bearer":
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <token>'.")
        try:
            return header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.") from None
    if TOKEN_FIELD in request.query_params:
        return request.query_params[TOKEN_FIELD]
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.content_type:
        data: Any = request.data  # a malformed body raises ParseError here: 400, not 401
        if isinstance(data, dict) or hasattr(data, "getlist"):
            value = data.get(TOKEN_FIELD)
            if isinstance(value, str):
                return value
    return None


class AccessTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        raw = token_from_request(request)
        if raw is None:
            return None
        try:
            token = throttling.authenticate_token(raw, clientaddr.from_request(request))
        except throttling.AuthenticationThrottled as exc:
            raise exceptions.Throttled(
                wait=exc.wait,
                detail="Too many failed authentications from your address; "
                f"try again in {math.ceil(exc.wait)} s.",
            ) from None
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked access token.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 when no token is given.
        return self.keyword


class OptionalAccessTokenAuthentication(AccessTokenAuthentication):
    """For views that answer a missing or wrong token themselves (Waziper's public API, in its
    own words and with HTTP 200): a wrong token leaves the request anonymous instead of failing
    it. The failed-authentication throttle still counts it, and still refuses (429)."""

    def authenticate(self, request: Request) -> tuple[Any, AccessToken] | None:
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            return None
