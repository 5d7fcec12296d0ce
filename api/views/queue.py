"""Queue endpoints: parse, scope to the caller, call the queue, shape the envelope."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api import waziper
from api.lookup import check_reached_through, get_instance
from api.responses import ASKS_THE_SESSION, IDEMPOTENCY_HEADER, idempotency_key, queued, session_errors
from api.serializers.queue import (
    MessageSerializer,
    QueueStatusSerializer,
    SendBulkSerializer,
    SendMessageSerializer,
    SendWaitSerializer,
    WhatsAppMessageSerializer,
)
from instances.models import Action
from kernel.envelope import error, success
from kernel.schema import (
    ACCESS_TOKEN_QUERY,
    INSTANCE_ID_PATH,
    ErrorSerializer,
    SuccessStatusField,
    envelope,
    error_responses,
    instance_id_query,
)
from kernel.views import ApiView
from operations import bulk_sends
from queueing import enqueue
from queueing.models import QueuedMessage
from queueing.stats import queue_status

MESSAGE_NOT_FOUND = "Message not found."
QUEUE_STATUS_RETRIEVED = "Queue status retrieved"


_QUEUED_DATA = inline_serializer(
    "QueuedData", fields={"message_id": serializers.UUIDField(), "status": serializers.CharField()}
)
_BULK_DATA = inline_serializer(
    "BulkQueuedData",
    fields={
        "bulk_id": serializers.UUIDField(allow_null=True, help_text="null when every recipient was skipped"),
        "count": serializers.IntegerField(),
        "skipped": inline_serializer(
            "BulkSkippedRecipient",
            fields={
                "index": serializers.IntegerField(help_text="Its place in recipients (or messages)"),
                "recipient": serializers.CharField(),
                "reason": serializers.CharField(help_text="not_on_whatsapp"),
            },
            many=True,
            help_text="Recipients left out by skip_not_on_whatsapp (else empty)",
        ),
        "messages": inline_serializer(
            "BulkQueuedMessage",
            fields={
                "message_id": serializers.UUIDField(),
                "chat_id": serializers.CharField(),
                "status": serializers.CharField(),
            },
            many=True,
        ),
    },
)
_IDEMPOTENCY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Repeat-safe key: a request with a key already used answers 200 with the first result.",
)
_WRITE_ERRORS = {
    **error_responses(404, 409, 503),
    409: OpenApiResponse(ErrorSerializer, description="The Idempotency-Key was used for another request."),
    503: OpenApiResponse(
        ErrorSerializer, description="Database busy or full: nothing queued; see Retry-After."
    ),
}
_MESSAGE_ID_PATH = OpenApiParameter("message_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


_SENT_OR_REPLAYED = PolymorphicProxySerializer(
    component_name="MessageSentOrReplayed",
    serializers=[
        inline_serializer(
            "MessageSentResponse",
            fields={
                "status": SuccessStatusField(),
                "message": WhatsAppMessageSerializer(),
                "data": _QUEUED_DATA,
            },
        ),
        envelope("MessageReplayed", _QUEUED_DATA),
    ],
    resource_type_field_name=None,
)


class SendMessageView(ApiView):
    @extend_schema(
        summary="Queue a message",
        description="Validates and queues; the worker sends it while the instance is connected. "
        "`type` picks the kind: text, image, video, audio, document (or `media`), sticker, "
        "location, contact, poll, reaction, edit, delete; each kind's own fields are named after "
        "it below. A reaction, edit or delete names its message in `target_message_id`; an "
        "unknown one, one of another instance, or one past WhatsApp's window is a 400 naming it. "
        "With `wait`, waits up to that many seconds for it to be sent: then answers 200 as "
        "Waziper's server does, `message` being WhatsApp's message info (`key.id`), or 502 if it "
        "failed; otherwise 202 queued. A replay of an Idempotency-Key answers 200 with the first "
        "message.",
        parameters=[_IDEMPOTENCY, instance_id_query(required=False), ACCESS_TOKEN_QUERY, SendWaitSerializer],
        request=SendMessageSerializer,
        responses={
            202: envelope("MessageQueued", _QUEUED_DATA, "Message queued"),
            200: _SENT_OR_REPLAYED,
            **_WRITE_ERRORS,
            502: OpenApiResponse(ErrorSerializer, description="The message failed within `wait`."),
        },
    )
    def post(self, request: Request, instance_id: str | None = None) -> Response:
        query = SendWaitSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        instance = get_instance(request, instance_id, action="change")
        key = idempotency_key(request)
        serializer = SendMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = queued(
            request,
            lambda: enqueue.enqueue(instance, serializer.validated_data["draft"], idempotency_key=key),
        )
        if isinstance(result, Response):
            return result
        return waziper.send_answer(result, query.validated_data["wait"])


@extend_schema_view(post=extend_schema(operation_id="send_message_by_path"))
class SendMessageByPathView(SendMessageView):
    """Waziper's alias: POST /send-message/<instance_id>."""


class SendBulkView(ApiView):
    @extend_schema(
        summary="Queue many messages in one transaction",
        description="`%name%` placeholders are filled from each recipient's params; `{a|b}` spintax "
        "is spun per recipient. All messages are queued, or none. With `skip_not_on_whatsapp`, phone "
        "numbers are checked first and those without WhatsApp are left out and listed in `skipped` "
        "(200 with `count: 0` when that is all of them); the check asks the instance's session for "
        "numbers not checked within WAZIPER_NUMBER_CHECK_CACHE_S, so while it cannot answer nothing "
        "is queued: " + ASKS_THE_SESSION,
        parameters=[_IDEMPOTENCY, instance_id_query(required=False), ACCESS_TOKEN_QUERY],
        request=SendBulkSerializer,
        responses={
            202: envelope("BulkQueued", _BULK_DATA, "2 messages queued"),
            200: envelope("BulkReplayed", _BULK_DATA),
            **_WRITE_ERRORS,
            **error_responses(502, 504),
            503: OpenApiResponse(
                ErrorSerializer,
                description="Database busy or full, or (skip_not_on_whatsapp) no live session to check "
                "the numbers: nothing queued; see Retry-After.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        instance = get_instance(request, action="change")
        key = idempotency_key(request)
        serializer = SendBulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attrs = serializer.validated_data
        if attrs["skip_not_on_whatsapp"]:
            return _bulk_to_whatsapp_users(request, instance, attrs, key)
        result = queued(
            request,
            lambda: enqueue.enqueue_bulk(
                instance, attrs["drafts"], idempotency_key=key, request_hash=attrs["request_hash"]
            ),
        )
        if isinstance(result, Response):
            return result
        return _bulk_answer(result, [])


def _bulk_answer(result: enqueue.Enqueued, skipped: list[bulk_sends.Skipped]) -> Response:
    data = {
        "bulk_id": str(result.bulk_id),
        "count": len(result.messages),
        "skipped": [{"index": s.index, "recipient": s.recipient, "reason": s.reason} for s in skipped],
        "messages": [
            {"message_id": str(m.message_id), "chat_id": m.chat_id, "status": m.status}
            for m in result.messages
        ],
    }
    if result.created:
        return success(f"{len(result.messages)} messages queued", data, http_status=status.HTTP_202_ACCEPTED)
    return success("Messages already queued (Idempotency-Key replay)", data)


def _bulk_to_whatsapp_users(
    request: Request, instance: Any, attrs: dict[str, Any], key: str | None
) -> Response:
    """/send_bulk with skip_not_on_whatsapp (operations/bulk_sends.py): the numbers are checked
    first; a session that cannot answer is the queries' 503/504, with nothing queued."""
    with session_errors():
        outcome = queued(
            request,
            lambda: bulk_sends.enqueue_bulk_to_whatsapp_users(
                instance, attrs["drafts"], idempotency_key=key, request_hash=attrs["request_hash"]
            ),
        )
    if isinstance(outcome, Response):
        return outcome
    if outcome.enqueued is not None:
        return _bulk_answer(outcome.enqueued, outcome.skipped)
    skipped = [{"index": s.index, "recipient": s.recipient, "reason": s.reason} for s in outcome.skipped]
    data = {"bulk_id": None, "count": 0, "skipped": skipped, "messages": []}
    return success("No messages queued: no recipient has WhatsApp", data)


class QueueStatusView(ApiView):
    @extend_schema(
        summary="Queue status of an instance",
        description="Counts per status, oldest queued age, whether sending is paused and why, "
        "next send time, success rate; and beside them Waziper's figures (`instanceId`, "
        "`mainQueue`, `retryQueue`, `processing`, `stats`, `successRate`, `recommendations`).",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={
            200: envelope("QueueStatus", QueueStatusSerializer(), QUEUE_STATUS_RETRIEVED),
            **error_responses(404),
        },
    )
    def get(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="view")
        return success(QUEUE_STATUS_RETRIEVED, queue_status(instance, timezone.now()))


def queued_message(request: Request, message_id: str, action: Action) -> QueuedMessage:
    """The message if the caller may `action` its instance: 404 when they may not even view it
    (as for a missing one), 403 when they may view but not change it."""
    try:
        key = uuid.UUID(message_id)
    except ValueError:
        raise exceptions.NotFound(MESSAGE_NOT_FOUND) from None
    found = QueuedMessage.objects.select_related("instance").filter(message_id=key).first()
    if found is None:
        raise exceptions.NotFound(MESSAGE_NOT_FOUND)
    check_reached_through(request, found.instance, action, MESSAGE_NOT_FOUND)
    return found


class MessageCancelView(ApiView):
    @extend_schema(
        summary="Cancel a queued message",
        request=None,
        parameters=[_MESSAGE_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={
            200: envelope("MessageCancelled", MessageSerializer()),
            **error_responses(404),
            409: OpenApiResponse(ErrorSerializer, description="The message is no longer queued."),
        },
    )
    def post(self, request: Request, message_id: str) -> Response:
        message = queued_message(request, message_id, "change")
        if enqueue.cancel(message):
            return success("Message cancelled", MessageSerializer(message).data)
        return error(
            f"Only queued messages can be cancelled; this one is {message.status}.",
            http_status=status.HTTP_409_CONFLICT,
            data=MessageSerializer(message).data,
        )
