"""Breakers in the admin: state per instance (with a reset action), failure history and resets,
both read-only: history is evidence, never edited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from breaker.models import BreakerReset, BreakerState, FailureEvent
from dashboard import actions
from dashboard.admin.scoped import InstanceScopedAdmin


class ReadOnlyAdmin(InstanceScopedAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BreakerState)
class BreakerStateAdmin(InstanceScopedAdmin):
    list_display = [
        "instance",
        "state",
        "consecutive_failures",
        "trips",
        "open_until",
        "last_failure_at",
        "last_reset_at",
    ]
    list_filter = ["state"]
    list_select_related = ["instance"]
    search_fields = ["instance__instance_id", "instance__name"]
    actions = ["reset_breakers"]
    # State moves only through breaker.service; per-instance thresholds are the editable part.
    readonly_fields = [
        f.name
        for f in BreakerState._meta.fields
        if f.name not in ("threshold", "window_s", "base_cooldown_s", "max_cooldown_s")
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Reset circuit breaker (and reconnect now)", permissions=["change"])
    def reset_breakers(self, request: HttpRequest, queryset: QuerySet[BreakerState]) -> None:
        allowed = self.changeable(request, queryset).select_related("instance")
        for state in allowed:
            actions.reset_breaker(state.instance, request.user)
        self.message_user(request, f"Reset {len(allowed)} breaker(s).")


@admin.register(FailureEvent)
class FailureEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "instance", "kind", "detail", "counts"]
    list_filter = ["kind", "counts", ("instance", admin.RelatedOnlyFieldListFilter), "at"]
    list_select_related = ["instance"]
    search_fields = ["instance__instance_id", "detail"]
    date_hierarchy = "at"


@admin.register(BreakerReset)
class BreakerResetAdmin(ReadOnlyAdmin):
    list_display = ["at", "instance", "source", "actor", "reason", "previous_state"]
    list_filter = ["source", ("instance", admin.RelatedOnlyFieldListFilter), "at"]
    list_select_related = ["instance"]
    search_fields = ["instance__instance_id", "actor", "reason"]
    date_hierarchy = "at"
