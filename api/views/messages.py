"""Messages in both directions: GET /messages (received ones from the inbox, sent ones from the
queue, newest first), GET /messages/<id> (either kind of id) and GET /messages/<id>/media (a
received message's media, fetched through the live session while WhatsApp still serves it)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import check_reached_through, get_instance
from api.responses import ask_session
from api.serializers.messages import (
    ChatFilter,
    Cursor,
    InboundListItemSerializer,
    InboundMessageSerializer,
    MessageListQuerySerializer,
    OutboundListItemSerializer,
)
from api.serializers.queue import MessageSerializer
from api.views.queue import MESSAGE_NOT_FOUND, queued_message
from inbox.models import InboundMessage, pk_from_api_id
from inbox.service import message_dict
from instances import visibility
from instances.models import Action
from kernel.envelope import ApiError, success
from kernel.schema import ACCESS_TOKEN_QUERY, ErrorSerializer, envelope, error_responses
from kernel.views import ApiView
from queueing.models import QueuedMessage

NO_MEDIA = "This message has no media."
MESSAGE_ID_PATH = OpenApiParameter(
    "message_id",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description="A queued message's UUID, or a received message's `in_…` id.",
)
_ANY_MESSAGE = PolymorphicProxySerializer(
    component_name="AnyMessage",
    serializers=[MessageSerializer, InboundMessageSerializer],
    resource_type_field_name=None,
)
_LISTED_MESSAGE = PolymorphicProxySerializer(
    component_name="ListedMessage",
    serializers=[OutboundListItemSerializer, InboundListItemSerializer],
    resource_type_field_name=None,
    many=True,
)


def inbound_message(request: Request, message_id: str, action: Action) -> InboundMessage:
    """The received message if the caller may `action` its instance (404 / 403 as for queued ones)."""
    pk = pk_from_api_id(message_id)
    found = (
        InboundMessage.objects.select_related("instance").filter(pk=pk).first() if pk is not None else None
    )
    if found is None:
        raise exceptions.NotFound(MESSAGE_NOT_FOUND)
    check_reached_through(request, found.instance, action, MESSAGE_NOT_FOUND)
    return found


def _listed(message: InboundMessage) -> dict[str, Any]:
    shown = message_dict(message, message.instance.instance_id)
    del shown["raw"]  # pages stay light; GET /messages/<id> has it
    return shown


def _page_before(rows: QuerySet[Any], field: str, direction: str, cursor: Cursor | None) -> QuerySet[Any]:
    """Rows that come after `cursor` in the order (time, direction, id), newest first."""
    if cursor is None:
        return rows
    same_time = Q(**{field: cursor.time})
    if direction < cursor.direction:
        tie = same_time
    elif direction == cursor.direction:
        tie = same_time & Q(pk__lt=cursor.id)
    else:
        tie = Q(pk__in=[])
    return rows.filter(Q(**{f"{field}__lt": cursor.time}) | tie)


def _in_period(
    rows: QuerySet[Any], field: str, since: datetime | None, until: datetime | None
) -> QuerySet[Any]:
    if since is not None:
        rows = rows.filter(**{f"{field}__gte": since})
    if until is not None:
        rows = rows.filter(**{f"{field}__lt": until})
    return rows


class MessageListView(ApiView):
    @extend_schema(
        operation_id="messages_list",
        tags=["messages"],
        summary="Messages received and sent, newest first",
        description="Received messages (`direction` in, by the time they arrived) and messages "
        "sent through the queue (`direction` out, by the time they were queued), of the "
        "instances you may view. One page at a time: pass the answer's `next` as `cursor` for "
        "the next (older) page; `next` is null on the last one. Received messages come without "
        "`raw` here; GET /messages/<id> has it.",
        parameters=[MessageListQuerySerializer, ACCESS_TOKEN_QUERY],
        responses={
            200: envelope(
                "MessageList",
                _LISTED_MESSAGE,
                next=serializers.CharField(allow_null=True, help_text="The cursor of the next page"),
            ),
            **error_responses(404),
        },
    )
    def get(self, request: Request) -> Response:
        query = MessageListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        instance = (
            get_instance(request, params["instance_id"], action="view") if "instance_id" in params else None
        )
        chat: ChatFilter | None = params.get("chat")
        cursor: Cursor | None = params.get("cursor")
        since, until, limit = params.get("since"), params.get("until"), params["limit"]
        found: list[tuple[tuple[datetime, str, int], dict[str, Any]]] = []
        if params.get("direction") in (None, "in"):
            received = visibility.scope(
                InboundMessage.objects.select_related("instance"), request.user, "view"
            )
            if instance is not None:
                received = received.filter(instance=instance)
            if chat is not None:
                match = Q(chat=chat.jid)
                if chat.phone:  # a person writing from a hidden (@lid) chat is still that number
                    match |= Q(is_group=False, sender_phone=chat.phone, chat__endswith="@lid")
                received = received.filter(match)
            received = _in_period(received, "received_at", since, until)
            received = _page_before(received, "received_at", "in", cursor).order_by("-received_at", "-id")
            found += [((m.received_at, "in", m.pk), _listed(m)) for m in received[: limit + 1]]
        if params.get("direction") in (None, "out"):
            sent = visibility.scope(QueuedMessage.objects.select_related("instance"), request.user, "view")
            if instance is not None:
                sent = sent.filter(instance=instance)
            if chat is not None:
                sent = sent.filter(chat_id__in=[name for name in (chat.jid, chat.phone) if name])
            sent = _in_period(sent, "created_at", since, until)
            sent = _page_before(sent, "created_at", "out", cursor).order_by("-created_at", "-id")
            found += [
                ((m.created_at, "out", m.pk), OutboundListItemSerializer(m).data) for m in sent[: limit + 1]
            ]
        found.sort(key=lambda item: item[0], reverse=True)
        page = found[:limit]
        after = Cursor(*page[-1][0]).encode() if len(found) > limit else None
        return success("Success", [shown for _, shown in page], next=after)


class MessageDetailView(ApiView):
    @extend_schema(
        operation_id="messages_retrieve",
        tags=["messages"],
        summary="One message: a queued one's status, or a received one",
        parameters=[MESSAGE_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={200: envelope("AnyMessageDetail", _ANY_MESSAGE), **error_responses(404)},
    )
    def get(self, request: Request, message_id: str) -> Response:
        if pk_from_api_id(message_id) is not None:
            received = inbound_message(request, message_id, "view")
            return success("Success", message_dict(received, received.instance.instance_id))
        return success("Success", MessageSerializer(queued_message(request, message_id, "view")).data)


class MessageMediaView(ApiView):
    @extend_schema(
        operation_id="messages_media",
        tags=["messages"],
        summary="A received message's media, fetched through the live session",
        description="WhatsApp serves a message's media for a while after it was sent; the "
        "instance's live session fetches it and the bytes come back as the message's mimetype. "
        "At most WAZIPER_INBOX_MEDIA_MAX_BYTES (413 beyond); 503 while the instance is not "
        "connected, 504 if WhatsApp does not answer within WAZIPER_INBOX_MEDIA_TIMEOUT, 410 once "
        "WhatsApp no longer serves it.",
        parameters=[MESSAGE_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={
            (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The media's bytes"),
            **error_responses(404, 502, 503, 504),
            410: OpenApiResponse(ErrorSerializer, description="WhatsApp no longer serves this media."),
            413: OpenApiResponse(
                ErrorSerializer, description="The media is larger than WAZIPER_INBOX_MEDIA_MAX_BYTES."
            ),
        },
    )
    def get(self, request: Request, message_id: str) -> HttpResponse:
        message = inbound_message(request, message_id, "view")
        if not message.media_download and message.media_size is None:
            raise exceptions.NotFound(NO_MEDIA)
        limit = settings.WAZIPER_INBOX_MEDIA_MAX_BYTES
        if message.media_size is not None and message.media_size > limit:
            raise ApiError(
                f"The media is {message.media_size} bytes, more than the {limit} this gateway hands out "
                "(WAZIPER_INBOX_MEDIA_MAX_BYTES).",
                http_status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                extra={"size": message.media_size, "limit": limit},
            )
        args = {
            "wa_message_id": message.wa_message_id,
            "download": message.media_download,
            "max_bytes": limit,
        }
        answer = ask_session(
            message.instance,
            "download_media",
            args,
            timeout=settings.WAZIPER_INBOX_MEDIA_TIMEOUT,
            forget=True,
        )
        try:
            content = base64.b64decode(answer["base64"], validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise ApiError(
                "The session's answer held no media.", http_status=status.HTTP_502_BAD_GATEWAY
            ) from None
        response = HttpResponse(content, content_type=message.media_mimetype or "application/octet-stream")
        response["Content-Length"] = str(len(content))
        filename = message.media_filename or f"{message.wa_message_id}"
        response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
        return response
