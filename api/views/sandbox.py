"""The sandbox's simulated phone over HTTP: scan the QR code it is shown, read what it received,
have one of its contacts send the instance a message, change a group or change its picture."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import get_instance
from api.serializers.instances import OutboxQuerySerializer, SandboxReceivedSerializer, TokenBodySerializer
from api.serializers.messages import SandboxIncomingSerializer
from api.serializers.sandbox import (
    SandboxContactUpdateSerializer,
    SandboxGroupUpdateSerializer,
    SandboxNotifiedSerializer,
)
from instances import sandbox_phone
from instances import service as instances_service
from instances.models import Action, Instance, SandboxIncoming, SandboxReceived
from kernel.envelope import Conflict, success
from kernel.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, envelope, error_responses
from kernel.views import ApiView

NOT_SANDBOX = "Only sandbox instances have a simulated phone."


def sandbox_instance(request: Request, instance_id: str, *, action: Action) -> Instance:
    instance = get_instance(request, instance_id, action=action)
    if not instance.is_sandbox:
        raise Conflict(NOT_SANDBOX)
    return instance


def _queue_from_phone(
    request: Request, instance_id: str, queue: Callable[[Instance, Mapping[str, Any]], SandboxIncoming]
) -> tuple[Instance, SandboxIncoming, bool]:
    """The simulated phone queues the request's body for the instance: 400 naming the fields,
    409 while no account is linked. Also says whether the instance is connected (it hears of it
    at the worker's next tick) or not (once it connects)."""
    instance = sandbox_instance(request, instance_id, action="change")
    data: Mapping[str, Any] = request.data if isinstance(request.data, Mapping) else {}
    try:
        sent = queue(instance, data)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError(exc.message_dict) from None
    except sandbox_phone.NotLinked as exc:
        raise Conflict(str(exc)) from None
    return instance, sent, instance.status == Instance.Status.CONNECTED


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


class SandboxIncomingView(ApiView):
    @extend_schema(
        operation_id="sandbox_incoming",
        tags=["sandbox"],
        summary="Sandbox only: a contact sends the instance a message",
        description="Any kind a phone can send: text, image, video, audio, document, sticker, "
        "location, contact, poll, reaction, edit, revoke (the last three name their "
        "`target_message_id`). The worker reports it as neonize reports a received message, so "
        "it reaches the inbox (GET /messages) and the `message.received` / `message.updated` "
        "events the same way: at the next tick while the instance is connected, or once it "
        "connects (WhatsApp keeps messages for an offline device too). 409 while no account is "
        "linked: link the simulated phone first.",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=SandboxIncomingSerializer,
        responses={
            202: envelope(
                "SandboxIncoming",
                inline_serializer(
                    "SandboxIncomingData",
                    fields={
                        "instance_id": serializers.CharField(),
                        "wa_message_id": serializers.CharField(),
                        "kind": serializers.CharField(),
                        "connected": serializers.BooleanField(
                            help_text="false: it waits until the instance connects"
                        ),
                    },
                ),
                message="Message sent",
            ),
            **error_responses(404, 409, body=True),
        },
    )
    def post(self, request: Request, instance_id: str) -> Response:
        instance, sent, connected = _queue_from_phone(request, instance_id, sandbox_phone.send_to_instance)
        return success(
            "Message sent" if connected else "Message sent; the instance receives it once it connects",
            {
                "instance_id": instance.instance_id,
                "wa_message_id": sent.wa_message_id,
                "kind": sent.message["kind"],
                "connected": connected,
            },
            http_status=status.HTTP_202_ACCEPTED,
        )


class _SandboxNotificationView(ApiView):
    """WhatsApp tells the sandbox instance of a change one of its contacts made."""

    kind: str

    def post(self, request: Request, instance_id: str) -> Response:
        instance, sent, connected = _queue_from_phone(
            request,
            instance_id,
            lambda instance, data: sandbox_phone.notify_instance(instance, self.kind, data),
        )
        return success(
            "Change sent" if connected else "Change sent; the instance hears of it once it connects",
            {
                "instance_id": instance.instance_id,
                "notification_id": sent.wa_message_id,
                "kind": self.kind,
                "connected": connected,
            },
            http_status=status.HTTP_202_ACCEPTED,
        )


_NOTIFIED = {
    202: envelope("SandboxNotified", SandboxNotifiedSerializer(), message="Change sent"),
    **error_responses(404, 409, body=True),
}


class SandboxGroupUpdateView(_SandboxNotificationView):
    kind = sandbox_phone.GROUP_UPDATE

    @extend_schema(
        operation_id="sandbox_group_update",
        tags=["sandbox"],
        summary="Sandbox only: a contact changes a group the account is in",
        description="Its name, description, who may send (`announce`) or edit it (`locked`), and "
        "its participants. The worker reports it as neonize reports WhatsApp's group "
        "notification: the group's cached copy changes and a `group.updated` event follows, at "
        "the next tick while the instance is connected, or once it connects. The sandbox phone's "
        "groups (GET /instances/<id>/groups?refresh=1) change with it. 409 while no account is "
        "linked.",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=SandboxGroupUpdateSerializer,
        responses=_NOTIFIED,
    )
    def post(self, request: Request, instance_id: str) -> Response:
        return super().post(request, instance_id)


class SandboxContactUpdateView(_SandboxNotificationView):
    kind = sandbox_phone.CONTACT_UPDATE

    @extend_schema(
        operation_id="sandbox_contact_update",
        tags=["sandbox"],
        summary="Sandbox only: a contact sets or removes its profile picture",
        description="Reported as neonize reports WhatsApp's picture notification: a "
        "`contact.updated` event follows. (A new push name comes with the contact's next "
        "message: POST /sandbox/<id>/incoming with `push_name`.) 409 while no account is linked.",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=SandboxContactUpdateSerializer,
        responses=_NOTIFIED,
    )
    def post(self, request: Request, instance_id: str) -> Response:
        return super().post(request, instance_id)
