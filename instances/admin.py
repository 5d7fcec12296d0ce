from __future__ import annotations

from django.contrib import admin

from instances.models import (
    AccessToken,
    Instance,
    InstanceEvent,
    SandboxPhone,
    SandboxReceived,
    WorkerProcess,
)


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = [
        "instance_id",
        "name",
        "owner",
        "transport",
        "desired_state",
        "status",
        "jid",
        "updated_at",
    ]
    list_filter = ["status", "desired_state", "transport"]
    search_fields = ["instance_id", "name", "jid", "owner__username"]
    readonly_fields = [
        "instance_id",
        "status",
        "status_detail",
        "jid",
        "push_name",
        "last_qr_at",
        "qr_expires_at",
        "connected_at",
        "last_seen_at",
        "retry_attempts",
        "next_attempt_at",
        "worker_id",
        "lease_expires_at",
        "created_at",
        "updated_at",
    ]
    exclude = ["last_qr"]


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    exclude = ["key_hash"]

    def has_add_permission(self, request) -> bool:  # raw keys are shown once, by `create_token`
        return False


@admin.register(InstanceEvent)
class InstanceEventAdmin(admin.ModelAdmin):
    list_display = ["id", "instance", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["instance__instance_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WorkerProcess)
class WorkerProcessAdmin(admin.ModelAdmin):
    list_display = ["worker_id", "hostname", "pid", "instances_held", "heartbeat_at", "stopped_at"]
    readonly_fields = [f.name for f in WorkerProcess._meta.fields]


admin.site.register(SandboxPhone)


@admin.register(SandboxReceived)
class SandboxReceivedAdmin(admin.ModelAdmin):
    list_display = ["id", "instance", "chat_id", "kind", "wa_message_id", "received_at"]
    search_fields = ["instance__instance_id", "chat_id", "wa_message_id", "ref"]
