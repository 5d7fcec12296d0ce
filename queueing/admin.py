from __future__ import annotations

from django.contrib import admin

from queueing.models import QueuedMessage


@admin.register(QueuedMessage)
class QueuedMessageAdmin(admin.ModelAdmin):
    list_display = [
        "message_id",
        "instance",
        "chat_id",
        "kind",
        "status",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["message_id", "chat_id", "instance__instance_id", "wa_message_id"]
    readonly_fields = [f.name for f in QueuedMessage._meta.fields]
