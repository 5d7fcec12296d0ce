"""Paths of Waziper's server that this project had no equivalent of: `GET /` (its welcome),
`GET /generate-instance-id`, `POST /force-retry/<id>`, `GET /get_groups` (the groups of
/instances/<id>/groups in its shape). Its other paths are this project's own views (session.py,
breaker.py, queue.py), answering in its words."""

from __future__ import annotations

from typing import Any, NoReturn

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from api import waziper
from api.lookup import get_instance
from api.serializers.groups import RefreshQuerySerializer
from api.serializers.waziper import WaziperGroupSerializer
from instances.models import Instance, new_instance_id
from kernel.envelope import ApiError, success
from kernel.schema import (
    ACCESS_TOKEN_QUERY,
    INSTANCE_ID_PATH,
    ErrorSerializer,
    envelope,
    error_responses,
    instance_id_query,
)
from kernel.views import ApiView
from operations import control

WELCOME = "Welcome to WAZIPER"
USE_THIS_ID = "Use this instance_id to create a new WhatsApp session"
RETRY_TRIGGERED = "Retry triggered"
TOKEN_REQUIRED = "Access token required"
# Waziper's `data` of /force-retry for what control.force_retry found.
_RETRY_OUTCOMES = {
    control.SESSION_EXISTS: {"success": False, "message": "Session already exists", "session_exists": True},
    control.CONNECTING: {"success": False, "message": "Connection already in progress", "connecting": True},
    control.STARTED: {"success": True, "message": "Retry initiated successfully", "session_created": True},
}


class PublicView(ApiView):
    """No token, no throttle: answers that cost nothing and tell nothing of any tenant."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []


class WelcomeView(PublicView):
    @extend_schema(
        operation_id="welcome",
        tags=["waziper"],
        summary="Waziper's welcome: monitors check that the server answers 200 here",
        auth=[],
        responses={200: envelope("Welcome", message=WELCOME)},
    )
    def get(self, request: Request) -> Response:
        return success(WELCOME)


class GenerateInstanceIdView(PublicView):
    @extend_schema(
        operation_id="generate_instance_id",
        tags=["waziper"],
        summary="An instance id no instance has (nothing is created or reserved)",
        description="Waziper's answer; the id is 13 hexadecimal characters, the form every "
        "instance id has here. Create the instance with it (POST /instances, or a first "
        "/get_qrcode when WAZIPER_CREATE_INSTANCE_ON_FIRST_USE is on).",
        auth=[],
        responses={
            200: inline_serializer(
                "GeneratedInstanceIdResponse",
                fields={
                    "status": serializers.CharField(help_text='"success"'),
                    "instance_id": serializers.RegexField(r"^[0-9A-F]{13}$"),
                    "message": serializers.CharField(help_text=f'"{USE_THIS_ID}"'),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        instance_id = new_instance_id()
        while Instance.objects.filter(instance_id=instance_id).exists():
            instance_id = new_instance_id()
        # Waziper's key order.
        return Response({"status": "success", "instance_id": instance_id, "message": USE_THIS_ID})


class ForceRetryView(ApiView):
    def permission_denied(
        self, request: Request, message: str | None = None, code: str | None = None
    ) -> NoReturn:
        if request.authenticators and not request.successful_authenticator:
            # Waziper's words for this path when no token is given.
            raise ApiError(
                TOKEN_REQUIRED,
                http_status=status.HTTP_401_UNAUTHORIZED,
                extra={"reason": "Authentication credentials were not provided."},
                headers={"WWW-Authenticate": "Bearer"},
            )
        super().permission_denied(request, message, code)

    @extend_schema(
        operation_id="force_retry",
        tags=["circuit breaker"],
        summary="Reset the breaker and connect now (Waziper's force-retry)",
        description="Closes the breaker (recorded as an API reset) and asks the worker to dial at "
        "once, unless a session is connected or connecting already; `data` says which, in "
        "Waziper's words. No token: 401, Access token required.",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=None,
        responses={
            200: envelope(
                "RetryTriggered",
                inline_serializer(
                    "RetryOutcome",
                    fields={
                        "success": serializers.BooleanField(),
                        "message": serializers.CharField(),
                        "session_exists": serializers.BooleanField(required=False),
                        "connecting": serializers.BooleanField(required=False),
                        "session_created": serializers.BooleanField(required=False),
                    },
                ),
                RETRY_TRIGGERED,
                instance_id=serializers.CharField(),
            ),
            **error_responses(404, body=True),
            401: OpenApiResponse(
                ErrorSerializer, description="No token (Access token required), or a bad one."
            ),
        },
    )
    def post(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="change")
        outcome = control.force_retry(instance, user=request.user, now=timezone.now())
        return success(RETRY_TRIGGERED, _RETRY_OUTCOMES[outcome], instance_id=instance.instance_id)


class GetGroupsView(ApiView):
    @extend_schema(
        operation_id="get_groups",
        tags=["groups"],
        summary="Waziper's /get_groups: the groups the account is in, in its shape",
        description="The groups of GET /instances/<id>/groups, each as Waziper's server shows it "
        "(`id`, `name`, `size`, `desc`, `participants[].admin` as superadmin, admin or null) with "
        "this project's fields beside. With no live session to ask and no fresh list in the "
        "database: an empty list, as Waziper's server gives (`instance_status` and `reason` say "
        "why). 504 when the session does not answer in time.",
        parameters=[instance_id_query(), ACCESS_TOKEN_QUERY, RefreshQuerySerializer],
        responses={
            200: envelope(
                "WaziperGroups",
                WaziperGroupSerializer(many=True),
                count=serializers.IntegerField(),
                fetched_at=serializers.DateTimeField(allow_null=True),
                cached=serializers.BooleanField(),
                instance_status=serializers.CharField(required=False),
                reason=serializers.CharField(required=False),
            ),
            **error_responses(404, 501, 502, 504),
        },
    )
    def get(self, request: Request) -> Response:
        instance = get_instance(request, action="view")
        refresh = RefreshQuerySerializer(data=request.query_params)
        refresh.is_valid(raise_exception=True)
        return waziper.groups_answer(instance, refresh=refresh.validated_data["refresh"])
