from __future__ import annotations

from django.contrib import admin

from breaker.models import BreakerReset, BreakerState, FailureEvent


@admin.register(BreakerState)
class BreakerStateAdmin(admin.ModelAdmin):
    list_display = [
        "instance",
        "state",
        "consecutive_failures",
        "open_until",
        "last_failure_at",
        "last_reset_at",
    ]
    list_filter = ["state"]
    search_fields = ["instance__instance_id", "instance__name"]


@admin.register(FailureEvent)
class FailureEventAdmin(admin.ModelAdmin):
    list_display = ["at", "instance", "kind", "detail", "counts"]
    list_filter = ["kind", "counts", "at"]
    search_fields = ["instance__instance_id", "detail"]
    date_hierarchy = "at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BreakerReset)
class BreakerResetAdmin(admin.ModelAdmin):
    list_display = ["at", "instance", "source", "actor", "reason", "previous_state"]
    list_filter = ["source"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
