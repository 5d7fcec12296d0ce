"""The WhatsApp session of one instance: GET /instance, GET /get_qrcode, GET/POST /logout.

Waziper's clients name the instance in the query string (or the body for POST). The web side
only writes desired state and commands and waits (briefly) for the worker's answer in the
database; it never touches a socket.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api import waziper
from api.lookup import get_instance
from api.serializers.instances import (
    InstanceBodySerializer,
    InstanceStateSerializer,
    QrQuerySerializer,
)
from kernel.schema import (
    ACCESS_TOKEN_QUERY,
    INSTANCE_ID_QUERY,
    ErrorStatusField,
    envelope,
    error_responses,
    instance_id_query,
)
from kernel.views import ApiView


class InstanceStateView(ApiView):
    @extend_schema(
        operation_id="instance_state",
        tags=["session"],
        summary="Instance info and state; starts the session if it is stopped",
        description="Waziper's answer: `success` with the linked phone's `id`, `name` and "
        "`avatar`, or (HTTP 200) `status: error`, `message: Error`, `relogin: true` while no phone "
        "is linked; the instance's state is `data` either way (its own name is `instance_name`). "
        "A QR-expired or logged-out instance stays parked until GET /get_qrcode. While the "
        "circuit breaker refuses connects: 503 with `circuit_breaker: true` and Retry-After (none "
        "when it needs a person: a new QR code or a reset). With "
        "WAZIPER_CREATE_INSTANCE_ON_FIRST_USE, an unknown 13-hex id is created for the caller.",
        parameters=[INSTANCE_ID_QUERY, ACCESS_TOKEN_QUERY],
        responses={
            200: PolymorphicProxySerializer(
                component_name="InstanceStateAnswer",
                serializers=[
                    envelope("InstanceState", InstanceStateSerializer()),
                    inline_serializer(
                        "InstanceNotLinkedResponse",
                        fields={
                            "status": ErrorStatusField(),
                            "message": serializers.CharField(help_text='"Error"'),
                            "relogin": serializers.BooleanField(),
                            "data": InstanceStateSerializer(),
                        },
                    ),
                ],
                resource_type_field_name=None,
            ),
            **error_responses(404, 503),
        },
    )
    def get(self, request: Request) -> Response:
        # It starts a stopped session: acting on the instance, not only reading it.
        instance = get_instance(request, action="change", first_use=True)
        return waziper.instance_answer(request, instance)


class QrCodeView(ApiView):
    @extend_schema(
        operation_id="get_qrcode",
        tags=["session"],
        summary="The QR code to link a phone (resets an open breaker, starts the session)",
        description="Returns a QR code being shown at once; otherwise starts the session and "
        "waits up to `wait` seconds for one. The manual request closes an open circuit breaker "
        "(recorded as a QR-request reset). A linked phone is never logged out by it: 409, "
        "It seems that you have logged in successfully. With WAZIPER_CREATE_INSTANCE_ON_FIRST_USE, "
        "an unknown 13-hex id is created for the caller.",
        parameters=[
            INSTANCE_ID_QUERY,
            ACCESS_TOKEN_QUERY,
            QrQuerySerializer,
        ],
        responses={
            200: envelope(
                "QrCode",
                base64=serializers.CharField(help_text="data:image/png;base64,…"),
                qr=serializers.CharField(help_text="The raw QR string"),
                expires_at=serializers.DateTimeField(allow_null=True),
            ),
            **error_responses(404, 409, 503),
        },
    )
    def get(self, request: Request) -> Response:
        query = QrQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        instance = get_instance(request, action="change", first_use=True)
        return waziper.qr_answer(request, instance, query.validated_data["wait"])


_LOGGED_OUT = envelope("LoggedOut", message=waziper.LOGGED_OUT, instance_id=serializers.CharField())
_LOGOUT_REQUESTED = envelope("LogoutRequested", instance_id=serializers.CharField())


def _logout_schema(operation_id: str, *, body: bool) -> Any:
    return extend_schema(
        operation_id=operation_id,
        tags=["session"],
        summary="Log the WhatsApp session out and delete its session store",
        description="Done at once when no worker holds the session; otherwise the worker holding "
        f"it logs out and this waits up to {waziper.LOGOUT_WAIT_S:g} s for it (202 if it has not "
        f"finished). Logged out already: 409, {waziper.LOGGED_OUT_BEFORE}",
        parameters=[instance_id_query(required=False), ACCESS_TOKEN_QUERY],
        request=InstanceBodySerializer if body else None,
        responses={
            200: _LOGGED_OUT,
            202: _LOGOUT_REQUESTED,
            **error_responses(404, 409, 502, body=body),
        },
    )


class LogoutView(ApiView):
    @_logout_schema("logout", body=False)
    def get(self, request: Request) -> Response:
        return self._logout(request)

    @_logout_schema("logout_post", body=True)
    def post(self, request: Request) -> Response:
        InstanceBodySerializer(data=request.data).is_valid(raise_exception=True)
        return self._logout(request)

    def _logout(self, request: Request) -> Response:
        return waziper.logout_answer(get_instance(request, action="change"))
