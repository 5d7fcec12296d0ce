"""OpenAPI pieces every endpoint shares: the auth schemes, the Waziper query parameters and the
response envelope (`{"status", "message", …}`), so each view documents itself in a few lines.

The queue's views use the same helpers (`envelope`, `error_responses`, `INSTANCE_ID_QUERY`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field, inline_serializer
from rest_framework import serializers

INSTANCE_ID_PATTERN = r"^[0-9A-Fa-f]{13}$"


class AccessTokenScheme(OpenApiAuthenticationExtension):
    """`instances.auth.AccessTokenAuthentication`: a Bearer header OR Waziper's `access_token`."""

    target_class = "instances.auth.AccessTokenAuthentication"
    match_subclasses = True  # OptionalAccessTokenAuthentication: the same token, or none
    name = ["bearerAuth", "accessToken"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer wzp_…`"},
            {
                "type": "apiKey",
                "in": "query",
                "name": "access_token",
                "description": "Waziper style: `?access_token=wzp_…` (a form or JSON field works too).",
            },
        ]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        # Either one is enough (OR), which OpenAPI spells as a list of requirements.
        return [{"bearerAuth": []}, {"accessToken": []}]


# Either scheme, or none: for views that answer a missing or wrong token themselves.
TOKEN_OR_NONE: list[dict[str, list[Any]]] = [{"bearerAuth": []}, {"accessToken": []}, {}]

ACCESS_TOKEN_QUERY = OpenApiParameter(
    "access_token",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=False,
    description="API token, as Waziper's clients send it (or use the Authorization header).",
)


def instance_id_query(*, required: bool = True) -> OpenApiParameter:
    return OpenApiParameter(
        "instance_id",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        required=required,
        pattern=INSTANCE_ID_PATTERN,
        description="The instance's 13-character id (case-insensitive).",
    )


INSTANCE_ID_QUERY = instance_id_query()
INSTANCE_ID_PATH = OpenApiParameter(
    "instance_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=INSTANCE_ID_PATTERN,
    description="The instance's 13-character id (case-insensitive).",
)


# Patterns, not enums: drf-spectacular turns every enum into a component named after its field,
# and every envelope's `status` would collide with the instance's own `status` enum.
@extend_schema_field({"type": "string", "pattern": "^success$"})
class SuccessStatusField(serializers.CharField):
    pass


@extend_schema_field({"type": "string", "pattern": "^error$"})
class ErrorStatusField(serializers.CharField):
    pass


class ErrorSerializer(serializers.Serializer):
    """The one error body. Only `status` and `message` are always there."""

    status = ErrorStatusField()
    message = serializers.CharField()
    # A field named like Serializer.errors: this class only describes the body in the schema.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="400: the reasons per field.",
    )
    retry_after = serializers.IntegerField(
        required=False, allow_null=True, help_text="429/503: seconds to wait (also the Retry-After header)."
    )
    circuit_breaker = serializers.BooleanField(
        required=False, help_text="503: the instance's circuit breaker refuses connects."
    )
    breaker_state = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)
    instance_status = serializers.CharField(required=False)


ERROR_DESCRIPTIONS = {
    400: "Invalid request (missing or malformed parameter, malformed JSON).",
    401: "No, invalid or revoked access token.",
    403: "You may view this instance but not do this to it (a model permission is missing).",
    404: "No such instance, or not one you may view.",
    409: "The instance is not in a state that allows this.",
    413: "Request body too large.",
    415: "Unsupported body media type (send JSON, a form or multipart).",
    429: "Too many requests for this token, or too many failed authentications from this "
    "address; see Retry-After.",
    501: "This transport cannot answer that question.",
    502: "WhatsApp or the worker reported a failure.",
    503: "The instance cannot connect or answer now (see `instance_status` and Retry-After).",
    504: "The live session did not answer in time; the question was cancelled.",
}


def error_responses(*codes: int, body: bool = False) -> dict[int, OpenApiResponse]:
    """The error envelope for `codes` plus the ones any authenticated endpoint may answer, and
    those of a request body (`body=True`: too large, unsupported media type). An endpoint that
    may answer 404 names an instance (or a message of one), so it may also answer 403."""
    forbidden = (403,) if 404 in codes else ()
    every = sorted({400, 401, 429, *codes, *forbidden, *((413, 415) if body else ())})
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in every}


def envelope(name: str, data: Any = None, message: str = "Success", **extra: Any) -> Any:
    """A success body `{"status": "success", "message", ["data"], **extra}`, as the component
    `<name>Response`."""
    fields: dict[str, Any] = {
        "status": SuccessStatusField(),
        "message": serializers.CharField(help_text=f'e.g. "{message}"'),
    }
    if data is not None:
        fields["data"] = data
    fields.update(extra)
    return inline_serializer(f"{name}Response", fields=fields)
