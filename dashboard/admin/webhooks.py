"""Webhooks in the admin: endpoints (state, breaker, backlog; test, replay, enable, reset) and
their deliveries (status, attempts, the receiver's last answer; retry).

Rows follow the visibility rule's spirit: everyone sees their own endpoints; those who may view
every tenant's instances see every endpoint. Nothing here edits a row directly: the actions call
webhooks.service, and secrets are never shown (they are shown once, when made).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from instances.models import may_act_on_all
from webhooks import service
from webhooks.models import WebhookDelivery, WebhookEndpoint

REPLAY_HOURS = 24
Status = WebhookDelivery.Status


def _scope(queryset: QuerySet[Any], request: HttpRequest, action: str, owner_field: str) -> QuerySet[Any]:
    user = request.user
    if may_act_on_all(user, action):  # type: ignore[arg-type]
        return queryset
    return queryset.filter(**{owner_field: user})


class _Scoped(admin.ModelAdmin):
    owner_field = "owner"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return _scope(super().get_queryset(request), request, "view", self.owner_field)

    def changeable(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return _scope(queryset, request, "change", self.owner_field)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # endpoints are made through the API, which shows the secret once


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_Scoped):
    list_display = [
        "id",
        "owner",
        "instance",
        "url",
        "format",
        "enabled",
        "breaker_state",
        "consecutive_failures",
        "backlog",
        "created_at",
    ]
    list_filter = ["enabled", "format", "breaker_state"]
    list_select_related = ["owner", "instance"]
    search_fields = ["url", "description", "instance__instance_id", "owner__username"]
    exclude = ["secret", "previous_secret"]
    readonly_fields = [
        f.name for f in WebhookEndpoint._meta.fields if f.name not in ("secret", "previous_secret")
    ]
    actions = ["send_test", "replay_recent", "reset_breakers", "enable", "disable"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        waiting = Q(deliveries__status__in=(Status.PENDING, Status.FAILED, Status.DELIVERING))
        return super().get_queryset(request).annotate(waiting=Count("deliveries", filter=waiting))

    @admin.display(description="backlog", ordering="waiting")
    def backlog(self, obj: Any) -> int:
        return getattr(obj, "waiting", 0)

    @admin.action(description="Send a webhook.test event", permissions=["change"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        endpoints = list(self.changeable(request, queryset))
        for endpoint in endpoints:
            service.send_test(endpoint)
        self.message_user(request, f"Queued a test event for {len(endpoints)} endpoint(s).")

    @admin.action(description=f"Replay the last {REPLAY_HOURS} hours of events", permissions=["change"])
    def replay_recent(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        since = timezone.now() - timedelta(hours=REPLAY_HOURS)
        queued, more = 0, False
        for endpoint in self.changeable(request, queryset):
            result = service.replay(endpoint, since=since)
            queued += result.queued
            more = more or result.more
        note = f" (stopped at {service.REPLAY_LIMIT} events per endpoint: use the API for the rest)"
        self.message_user(
            request,
            f"Queued {queued} delivery(ies) again{note if more else ''}.",
            messages.WARNING if more else messages.SUCCESS,
        )

    @admin.action(description="Close the breaker and deliver what waits now", permissions=["change"])
    def reset_breakers(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        woken = sum(service.reset_breaker(endpoint) for endpoint in self.changeable(request, queryset))
        self.message_user(request, f"Breaker(s) closed; {woken} delivery(ies) due now.")

    @admin.action(description="Enable (deliveries resume)", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        endpoints = list(self.changeable(request, queryset))
        for endpoint in endpoints:
            service.update_endpoint(endpoint, enabled=True)
        self.message_user(request, f"Enabled {len(endpoints)} endpoint(s).")

    @admin.action(description="Disable (deliveries wait)", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        endpoints = list(self.changeable(request, queryset))
        for endpoint in endpoints:
            service.update_endpoint(endpoint, enabled=False)
        self.message_user(request, f"Disabled {len(endpoints)} endpoint(s).")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_Scoped):
    owner_field = "endpoint__owner"
    list_display = [
        "id",
        "endpoint",
        "event_type",
        "event_id",
        "status",
        "attempts",
        "last_status_code",
        "last_attempt_at",
        "next_attempt_at",
        "short_error",
        "created_at",
    ]
    list_filter = ["status", "event_type", "created_at"]
    list_select_related = ["endpoint"]
    search_fields = ["=id", "=event__id", "endpoint__url", "last_error"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields] + ["webhook_id"]
    actions = ["retry_deliveries"]

    @admin.display(description="last error")
    def short_error(self, obj: WebhookDelivery) -> str:
        return obj.last_error[:80]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the delivery log is evidence; deleting the endpoint removes it

    @admin.action(description="Deliver again now (same webhook-id, fresh schedule)", permissions=["change"])
    def retry_deliveries(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        rows = list(self.changeable(request, queryset))
        done = sum(service.retry_delivery(delivery) for delivery in rows)
        skipped = len(rows) - done
        self.message_user(
            request,
            f"Queued {done} delivery(ies) again"
            + (f"; {skipped} being posted right now were left alone." if skipped else "."),
        )
