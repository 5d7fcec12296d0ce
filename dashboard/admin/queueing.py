from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from dashboard.admin.scoped import InstanceScopedAdmin
from queueing import enqueue
from queueing.models import QueuedMessage


def describe(message: QueuedMessage) -> str:
    """A message's kind-specific fields as one line an operator reads at a glance."""
    data = message.payload or {}
    parts: list[str] = []
    if message.kind == QueuedMessage.Kind.LOCATION:
        parts.append(f"at {data.get('latitude')}, {data.get('longitude')}")
        parts += [str(data[key]) for key in ("name", "address") if data.get(key)]
    elif message.kind == QueuedMessage.Kind.CONTACT:
        parts.append(
            f"contact {data.get('name', '')}" + (f" (+{data['phone']})" if data.get("phone") else "")
        )
    elif message.kind == QueuedMessage.Kind.POLL:
        options = " / ".join(data.get("options") or [])
        parts.append(
            f"poll {data.get('question', '')!r}: {options} (choose {data.get('selectable_count', 1)})"
        )
    elif message.kind == QueuedMessage.Kind.REACTION:
        parts.append(f"reaction {data.get('emoji') or '(removed)'}")
    if target := data.get("target"):
        parts.append(f"on {target.get('message_id') or target.get('wa_message_id')}")
    if quoted := data.get("quoted"):
        parts.append(f"replying to {quoted.get('message_id') or quoted.get('wa_message_id')}")
    if message.mentions:
        parts.append(f"mentions {', '.join(message.mentions)}")
    if message.typing_s is not None:
        parts.append(f"typing {message.typing_s:g}s first")
    return "; ".join(parts)


@admin.register(QueuedMessage)
class QueuedMessageAdmin(InstanceScopedAdmin):
    list_display = [
        "message_id",
        "instance",
        "chat_id",
        "kind",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "short_error",
    ]
    list_filter = ["status", "kind", ("instance", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["instance"]
    search_fields = ["=message_id", "chat_id", "instance__instance_id", "wa_message_id", "=bulk_id"]
    date_hierarchy = "created_at"
    readonly_fields = ["kind_fields", *(f.name for f in QueuedMessage._meta.fields)]
    actions = ["cancel_messages", "requeue_messages"]
    # The queue never deletes: history is how "was it sent?" gets answered.
    actions_on_top = True

    @admin.display(description="last error")
    def short_error(self, obj: QueuedMessage) -> str:
        return obj.last_error[:80]

    @admin.display(description="what it says")
    def kind_fields(self, obj: QueuedMessage) -> str:
        """The kind's own fields in words (the raw JSON is below, as `payload`)."""
        return describe(obj) or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:  # the API validates; the admin does not
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Cancel selected messages (queued ones only)", permissions=["change"])
    def cancel_messages(self, request: HttpRequest, queryset: QuerySet[QueuedMessage]) -> None:
        done = enqueue.cancel_queued(self.changeable(request, queryset))
        skipped = queryset.count() - done
        self.message_user(
            request, f"Cancelled {done} message(s); {skipped} were not queued and stay as they are."
        )

    @admin.action(
        description="Requeue failed/uncertain/cancelled messages (an uncertain one may arrive twice)",
        permissions=["change"],
    )
    def requeue_messages(self, request: HttpRequest, queryset: QuerySet[QueuedMessage]) -> None:
        done = enqueue.requeue(self.changeable(request, queryset))
        level = messages.SUCCESS if done else messages.WARNING
        self.message_user(request, f"Requeued {done} message(s) with fresh attempts.", level)
