"""/webhooks: an owner's endpoints, their deliveries, tests, retries and replays.

Endpoints are their owner's alone: anyone else is told they do not exist (404). An endpoint for
one instance needs the right to change that instance, to make it and to change it later
(instances/visibility.py); an endpoint for all instances covers the ones its owner owns.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import check_reached_through, get_instance
from api.serializers.webhooks import (
    DeliveryListQuerySerializer,
    DeliverySerializer,
    ReplayResultSerializer,
    ReplaySerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
    WebhookWithSecretSerializer,
)
from instances.models import Action
from kernel.envelope import error, success
from kernel.schema import ACCESS_TOKEN_QUERY, ErrorSerializer, envelope, error_responses
from kernel.views import ApiView
from webhooks import service
from webhooks.models import WebhookDelivery, WebhookEndpoint

WEBHOOK_NOT_FOUND = "Webhook not found."
DELIVERY_NOT_FOUND = "Delivery not found."
TAGS = ["webhooks"]
WEBHOOK_ID_PATH = OpenApiParameter("webhook_id", OpenApiTypes.INT, OpenApiParameter.PATH)
DELIVERY_ID_PATH = OpenApiParameter("delivery_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _pk(value: str, message: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise exceptions.NotFound(message)
    return int(value)


def _endpoint(request: Request, webhook_id: str, action: Action) -> WebhookEndpoint:
    """The caller's endpoint: 404 if it is not theirs; 403 if it posts one instance's events and
    they may view that instance but no longer change it."""
    endpoint = (
        WebhookEndpoint.objects.select_related("instance")
        .filter(pk=_pk(webhook_id, WEBHOOK_NOT_FOUND), owner_id=request.user.pk)
        .first()
    )
    if endpoint is None:
        raise exceptions.NotFound(WEBHOOK_NOT_FOUND)
    if endpoint.instance is not None and action != "view":
        check_reached_through(request, endpoint.instance, action, WEBHOOK_NOT_FOUND)
    return endpoint


def _shown(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    if secret is None:
        return dict(WebhookSerializer(endpoint).data)
    endpoint.secret = secret
    return dict(WebhookWithSecretSerializer(endpoint).data)


class WebhookListView(ApiView):
    @extend_schema(
        operation_id="webhooks_list",
        tags=TAGS,
        summary="List your webhook endpoints",
        parameters=[ACCESS_TOKEN_QUERY],
        responses={200: envelope("WebhookList", WebhookSerializer(many=True)), **error_responses()},
    )
    def get(self, request: Request) -> Response:
        endpoints = WebhookEndpoint.objects.filter(owner_id=request.user.pk).select_related("instance")
        return success("Success", WebhookSerializer(endpoints, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        tags=TAGS,
        summary="Add a webhook endpoint (its signing secret is shown in this answer only)",
        description="Events are posted as they happen, signed per Standard Webhooks (webhook-id, "
        "webhook-timestamp, webhook-signature), retried for about a day, at least once.",
        parameters=[ACCESS_TOKEN_QUERY],
        request=WebhookCreateSerializer,
        responses={
            201: envelope("WebhookCreated", WebhookWithSecretSerializer(), message="Webhook created"),
            **error_responses(404, body=True),
        },
    )
    def post(self, request: Request) -> Response:
        body = WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        instance = None
        if data.get("instance_id"):
            instance = get_instance(request, data["instance_id"], action="change")
        endpoint, secret = service.create_endpoint(
            request.user,
            url=data["url"],
            instance=instance,
            events_filter=data.get("events", []),
            format=data.get("format", "standard"),
            description=data.get("description", ""),
        )
        return success("Webhook created", _shown(endpoint, secret), http_status=status.HTTP_201_CREATED)


class WebhookDetailView(ApiView):
    @extend_schema(
        operation_id="webhooks_show",
        tags=TAGS,
        summary="Show one webhook endpoint",
        parameters=[WEBHOOK_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={200: envelope("WebhookDetail", WebhookSerializer()), **error_responses(404)},
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        return success("Success", _shown(_endpoint(request, webhook_id, "view")))

    @extend_schema(
        operation_id="webhooks_update",
        tags=TAGS,
        summary="Change a webhook endpoint (url, events, format, description, enabled)",
        parameters=[WEBHOOK_ID_PATH, ACCESS_TOKEN_QUERY],
        request=WebhookUpdateSerializer,
        responses={200: envelope("WebhookUpdated", WebhookSerializer()), **error_responses(404, body=True)},
    )
    def patch(self, request: Request, webhook_id: str) -> Response:
        endpoint = _endpoint(request, webhook_id, "change")
        body = WebhookUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        endpoint = service.update_endpoint(endpoint, **body.validated_data)
        return success("Webhook updated", _shown(endpoint))

    @extend_schema(
        operation_id="webhooks_delete",
        tags=TAGS,
        summary="Delete a webhook endpoint and its delivery log",
        parameters=[WEBHOOK_ID_PATH, ACCESS_TOKEN_QUERY],
        request=None,
        responses={
            200: envelope("WebhookDeleted", message="Webhook deleted", id=serializers.IntegerField()),
            **error_responses(404, body=True),
        },
    )
    def delete(self, request: Request, webhook_id: str) -> Response:
        endpoint = _endpoint(request, webhook_id, "change")
        pk = endpoint.pk
        service.delete_endpoint(endpoint)
        return success("Webhook deleted", id=pk)


class WebhookTestView(ApiView):
    @extend_schema(
        operation_id="webhooks_test",
        tags=TAGS,
        summary="Queue a webhook.test event for the endpoint, due now (whatever its event filter)",
        description="Follow it in GET /webhooks/{webhook_id}/deliveries.",
        parameters=[WEBHOOK_ID_PATH, ACCESS_TOKEN_QUERY],
        request=None,
        responses={
            202: envelope("WebhookTestQueued", DeliverySerializer(), message="Test event queued"),
            **error_responses(404, body=True),
        },
    )
    def post(self, request: Request, webhook_id: str) -> Response:
        delivery = service.send_test(_endpoint(request, webhook_id, "change"))
        return success(
            "Test event queued", DeliverySerializer(delivery).data, http_status=status.HTTP_202_ACCEPTED
        )


class WebhookRotateSecretView(ApiView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        tags=TAGS,
        summary="Make a new signing secret (shown in this answer only)",
        description="Until `secret_rotated_until` (WAZIPER_WEBHOOK_SECRET_OVERLAP, 24 h by default) "
        "deliveries carry a signature by the previous secret too, so receivers can switch over.",
        parameters=[WEBHOOK_ID_PATH, ACCESS_TOKEN_QUERY],
        request=None,
        responses={
            200: envelope("WebhookSecretRotated", WebhookWithSecretSerializer(), message="Secret rotated"),
            **error_responses(404, body=True),
        },
    )
    def post(self, request: Request, webhook_id: str) -> Response:
        endpoint = _endpoint(request, webhook_id, "change")
        secret = service.rotate_secret(endpoint)
        return success("Secret rotated", _shown(endpoint, secret))


class WebhookDeliveryListView(ApiView):
    @extend_schema(
        operation_id="webhooks_deliveries",
        tags=TAGS,
        summary="The endpoint's deliveries, newest first (cursor: `before`)",
        parameters=[WEBHOOK_ID_PATH, DeliveryListQuerySerializer, ACCESS_TOKEN_QUERY],
        responses={
            200: envelope(
                "WebhookDeliveries",
                DeliverySerializer(many=True),
                next=serializers.IntegerField(
                    allow_null=True, help_text="Pass as `before` for the next page; null on the last."
                ),
            ),
            **error_responses(404),
        },
    )
    def get(self, request: Request, webhook_id: str) -> Response:
        endpoint = _endpoint(request, webhook_id, "view")
        query = DeliveryListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")
        if params.get("status"):
            rows = rows.filter(status=params["status"])
        if params.get("before"):
            rows = rows.filter(pk__lt=params["before"])
        page = list(rows[: params["limit"] + 1])
        more = len(page) > params["limit"]
        page = page[: params["limit"]]
        return success(
            "Success", DeliverySerializer(page, many=True).data, next=page[-1].pk if more and page else None
        )


class WebhookDeliveryRetryView(ApiView):
    @extend_schema(
        operation_id="webhooks_delivery_retry",
        tags=TAGS,
        summary="Deliver one delivery again now, with a fresh schedule (the same webhook-id)",
        parameters=[WEBHOOK_ID_PATH, DELIVERY_ID_PATH, ACCESS_TOKEN_QUERY],
        request=None,
        responses={
            202: envelope("WebhookDeliveryRetried", DeliverySerializer(), message="Delivery queued"),
            **error_responses(404, body=True),
            409: OpenApiResponse(ErrorSerializer, description="A deliverer is posting it right now."),
        },
    )
    def post(self, request: Request, webhook_id: str, delivery_id: str) -> Response:
        endpoint = _endpoint(request, webhook_id, "change")
        delivery = WebhookDelivery.objects.filter(
            endpoint=endpoint, pk=_pk(delivery_id, DELIVERY_NOT_FOUND)
        ).first()
        if delivery is None:
            raise exceptions.NotFound(DELIVERY_NOT_FOUND)
        if not service.retry_delivery(delivery):
            return error(
                "A deliverer is posting this delivery right now; its outcome will be recorded shortly.",
                http_status=status.HTTP_409_CONFLICT,
            )
        return success(
            "Delivery queued", DeliverySerializer(delivery).data, http_status=status.HTTP_202_ACCEPTED
        )


class WebhookReplayView(ApiView):
    @extend_schema(
        operation_id="webhooks_replay",
        tags=TAGS,
        summary="Deliver again the outbox events since an event id or a time",
        description="Events the endpoint subscribes to and the outbox still keeps "
        "(WAZIPER_EVENT_RETENTION_DAYS): new deliveries for those it never had, and the ones it had "
        "made due again with their original webhook-id. At most `limit` events per call.",
        parameters=[WEBHOOK_ID_PATH, ACCESS_TOKEN_QUERY],
        request=ReplaySerializer,
        responses={
            202: envelope("WebhookReplayed", ReplayResultSerializer(), message="Replay queued"),
            **error_responses(404, body=True),
        },
    )
    def post(self, request: Request, webhook_id: str) -> Response:
        endpoint = _endpoint(request, webhook_id, "change")
        body = ReplaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = service.replay(
            endpoint,
            from_event_id=body.validated_data.get("from_event_id"),
            since=body.validated_data.get("since"),
            limit=body.validated_data["limit"],
        )
        data = {"queued": result.queued, "last_event_id": result.last_event_id, "more": result.more}
        return success("Replay queued", data, http_status=status.HTTP_202_ACCEPTED)
