"""The sandbox's simulated phone over HTTP: scan the QR code it is shown, read what it received."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import get_instance
from api.serializers.instances import OutboxQuerySerializer, SandboxReceivedSerializer, TokenBodySerializer
from instances import service as instances_service
from instances.models import Action, Instance, SandboxReceived
from kernel.envelope import Conflict, success
from kernel.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, envelope, error_responses
from kernel.views import ApiView

NOT_SANDBOX = "Only sandbox instances have a simulated phone."


def sandbox_instance(request: Request, instance_id: str, *, action: Action) -> Instance:
    instance = get_instance(request, instance_id, action=action)
    if not instance.is_sandbox:
        raise Conflict(NOT_SANDBOX)
    return instance


class SandboxScanView(ApiView):
    @extend_schema(
        operation_id="sandbox_scan",
        tags=["sandbox"],
        summary="Sandbox only: the simulated phone scans the QR code it is shown",
        description="The worker links the phone while a QR code is shown (at once if one is, "
        "otherwise at the next one: request it with GET /get_qrcode).",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=TokenBodySerializer,
        responses={
            202: envelope(
                "SandboxScan",
                message="Scan requested",
                instance_id=serializers.CharField(),
                qr_shown=serializers.BooleanField(),
            ),
            **error_responses(404, 409, body=True),
        },
    )
    def post(self, request: Request, instance_id: str) -> Response:
        TokenBodySerializer(data=request.data).is_valid(raise_exception=True)
        instance = sandbox_instance(request, instance_id, action="change")
        instances_service.request_sandbox_scan(instance)
        return success(
            "Scan requested",
            http_status=status.HTTP_202_ACCEPTED,
            instance_id=instance.instance_id,
            qr_shown=instance.status == Instance.Status.QR_PENDING,
        )


class SandboxOutboxView(ApiView):
    @extend_schema(
        operation_id="sandbox_outbox",
        tags=["sandbox"],
        summary="Sandbox only: what the simulated recipients received, oldest first",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY, OutboxQuerySerializer],
        responses={
            200: envelope("SandboxOutbox", SandboxReceivedSerializer(many=True)),
            **error_responses(404, 409),
        },
    )
    def get(self, request: Request, instance_id: str) -> Response:
        query = OutboxQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        instance = sandbox_instance(request, instance_id, action="view")
        rows = SandboxReceived.objects.filter(instance=instance, id__gt=query.validated_data["since"])
        rows = rows.order_by("id")[: query.validated_data["limit"]]
        return success("Success", SandboxReceivedSerializer(rows, many=True).data)
