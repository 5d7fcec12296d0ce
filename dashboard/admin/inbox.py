from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from dashboard.admin.scoped import InstanceScopedAdmin
from inbox.models import InboundMessage


@admin.register(InboundMessage)
class InboundMessageAdmin(InstanceScopedAdmin):
    """What the sessions received, to read: only the inbox's service writes these rows."""

    list_display = ["received_at", "instance", "kind", "chat", "sender_phone", "push_name", "short_text"]
    list_filter = [
        "kind",
        "is_group",
        "from_me",
        ("instance", admin.RelatedOnlyFieldListFilter),
        "received_at",
    ]
    list_select_related = ["instance"]
    search_fields = ["=wa_message_id", "chat", "sender_phone", "push_name", "instance__instance_id"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboundMessage._meta.fields]

    @admin.display(description="text")
    def short_text(self, obj: InboundMessage) -> str:
        return obj.text[:80]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the retention prunes; a message deleted here would come back as "new"
