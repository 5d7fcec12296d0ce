from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from dashboard import actions
from dashboard.admin.scoped import InstanceScopedAdmin
from dashboard.figures import instance_home, with_list_columns
from instances import service as instances_service
from instances import visibility
from instances.models import (
    AccessToken,
    Instance,
    InstanceEvent,
    SandboxPhone,
    SandboxReceived,
    WorkerProcess,
)
from instances.validation import (
    validate_instance_name,
    validate_proxy_url,
    validate_sandbox_behaviour,
    validate_send_delays,
    validate_typing,
)


class BreakerStateFilter(admin.ChoicesFieldListFilter):
    """`breaker__state` would be titled plain "state" next to the instance's own status."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "breaker"


# The instance page's buttons: the dashboard's actions (dashboard/urls.py), which come back here.
HOME_BUTTONS = (
    ("reset-breaker", "Reset breaker", ""),
    ("start", "Start", ""),
    ("stop", "Stop", ""),
    ("logout", "Log out", "wz-danger"),
)


class InstanceForm(forms.ModelForm):
    """The API's checks on the admin's form: adding goes through the service, which would raise
    (a 500) on what the form let through, and changing saved it unchecked for the worker."""

    def clean_name(self) -> str:
        return validate_instance_name(self.cleaned_data.get("name") or "")

    def clean_proxy_url(self) -> str:
        return validate_proxy_url(self.cleaned_data.get("proxy_url") or "")

    def clean_sandbox(self) -> dict[str, Any]:
        return validate_sandbox_behaviour(self.cleaned_data.get("sandbox"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        errors: dict[str, Any] = validate_send_delays(data.get("send_delay_min"), data.get("send_delay_max"))
        errors.update(validate_typing(data.get("typing_min_s"), data.get("typing_max_s")))
        if data.get("sandbox") and data.get("transport") != Instance.Transport.SANDBOX:
            errors["sandbox"] = "Sandbox behaviour applies only to sandbox instances."
        # A new instance, or one given to another owner, must fit the owner's instance limit.
        owner = self.cleaned_data.get("owner")
        if owner is not None and owner.pk != self.instance.owner_id:
            try:
                instances_service.check_instance_limit(owner)
            except instances_service.InstanceLimitReached as exc:
                errors["owner"] = str(exc)
        if errors:
            raise ValidationError(errors)
        return data


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    """The instance list operators start from (state at a glance, bulk actions, "Link phone"), and
    each instance's page: its status panel and buttons above the form, raw fields folded away."""

    form = InstanceForm
    # Narrow enough for 1280 px beside the admin's sidebar and filters: the name, transport and
    # status detail share cells, and the last failure is the breaker cell's tooltip.
    list_display = ["instance", "owner_name", "status_badge", "breaker_badge", "queue", "link_phone"]
    list_display_links = ["instance"]
    list_filter = ["status", "desired_state", "transport", ("breaker__state", BreakerStateFilter)]
    list_select_related = ["owner"]
    search_fields = ["instance_id", "name", "jid", "owner__username"]
    actions = ["reset_breakers", "start_instances", "stop_instances", "logout_instances"]
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
    # What a person chooses when adding an instance; the rest is the worker's, shown on the
    # change form, where the status panel above it reads them: folded, for the rare edit.
    _chosen_fields: list[Any] = [
        "sandbox",
        "desired_state",
        ("send_delay_min", "send_delay_max"),
        ("typing_min_s", "typing_max_s"),
    ]
    _main: Any = (None, {"fields": ["name", "owner", "transport", "proxy_url"]})
    add_fieldsets = [_main, ("Advanced", {"classes": ["collapse"], "fields": _chosen_fields})]
    fieldsets = [
        _main,
        (
            "Advanced",
            {
                "classes": ["collapse"],
                "fields": [
                    *_chosen_fields,
                    ("status", "status_detail"),
                    ("jid", "push_name"),
                    ("worker_id", "lease_expires_at"),
                    ("retry_attempts", "next_attempt_at"),
                    ("last_qr_at", "qr_expires_at"),
                    ("connected_at", "last_seen_at"),
                    ("instance_id", "created_at", "updated_at"),
                ],
            },
        ),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Instance | None = None) -> Any:
        return self.fieldsets if obj is not None else self.add_fieldsets

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Instance | None = None,
    ) -> Any:
        if change and obj is not None:
            context["home"] = instance_home(obj, timezone.now())
            context["may_act"] = self.has_change_permission(request, obj)
            context["buttons"] = HOME_BUTTONS
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request: HttpRequest, obj: Instance, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new instance goes through the service, as from the API: validation, sandbox phone.
        created = instances_service.create_instance(
            obj.owner, name=obj.name, transport=obj.transport, proxy_url=obj.proxy_url, sandbox=obj.sandbox
        )
        obj.__dict__.update({k: v for k, v in created.__dict__.items() if k != "_state"})
        obj._state.adding = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Instance]:
        # The visibility rule (instances/visibility.py): everything for those with the view or
        # change permission, which Django's own checks already require on these pages.
        queryset = visibility.scope(super().get_queryset(request), request.user, "view", through=None)
        # Only the list needs the per-row figures; change and delete pages stay plain.
        if request.resolver_match and request.resolver_match.url_name == "instances_instance_changelist":
            queryset = with_list_columns(queryset, timezone.now())
        return queryset

    @admin.display(description="instance", ordering="instance_id")
    def instance(self, obj: Instance) -> str:
        return format_html(
            '{}<span class="wz-sub">{}{}</span>',
            obj.instance_id,
            f"{obj.name} · " if obj.name else "",
            obj.transport,
        )

    @admin.display(description="owner", ordering="owner__username")
    def owner_name(self, obj: Instance) -> str:
        return format_html('<span class="wz-cut" title="{}">{}</span>', obj.owner, obj.owner)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Instance) -> str:
        # The badge says the state in a word or two; the full label and detail are one line below
        # (cut to the cell's width) and whole in the tooltip.
        badge = format_html(
            '<span class="wz-badge wz-status-{}" title="{}">{}</span>',
            obj.status,
            obj.get_status_display(),
            obj.status.replace("_", " "),
        )
        if not obj.status_detail:
            return badge
        detail = obj.status_detail
        return format_html('{}<span class="wz-sub" title="{}">{}</span>', badge, detail, detail)

    @admin.display(description="breaker", ordering="breaker_state")
    def breaker_badge(self, obj: Instance) -> str:
        state = getattr(obj, "breaker_state", "closed")
        failures = getattr(obj, "failures_in_window", 0)
        at = getattr(obj, "last_failure_at", None)
        counted = f"{failures} failure{'' if failures == 1 else 's'}"
        kind = getattr(obj, "last_failure_kind", "")
        last = f"last: {kind}, {naturaltime(at)}" if at else "none recorded"
        return format_html(
            '<span class="wz-badge wz-breaker-{}">{}</span><span class="wz-sub" title="{}">{}</span>',
            state,
            state.replace("_", " "),
            f"{counted} in the breaker's window; {last}",
            counted,
        )

    @admin.display(description="queue", ordering="queue_depth")
    def queue(self, obj: Instance) -> str:
        depth = getattr(obj, "queue_depth", 0)
        url = reverse("admin:queueing_queuedmessage_changelist") + f"?instance__id__exact={obj.pk}"
        return format_html('<a href="{}" title="queued and sending messages">{}</a>', url, depth)

    @admin.display(description="")
    def link_phone(self, obj: Instance) -> str:
        return format_html(
            '<a class="button" href="{}">Link phone</a>',
            reverse("dashboard:link-phone", args=[obj.instance_id]),
        )

    def _each(self, request: HttpRequest, queryset: QuerySet[Instance], operation: Any) -> None:
        failed = 0
        queryset = visibility.scope(queryset, request.user, "change", through=None)
        for instance in queryset:
            outcome = operation(instance, request.user)
            if not outcome.ok:
                failed += 1
                self.message_user(request, outcome.message, messages.ERROR)
        done = queryset.count() - failed
        self.message_user(request, f"{operation.__name__.replace('_', ' ')}: done for {done} instance(s).")

    @admin.action(description="Reset circuit breaker (and reconnect now)", permissions=["change"])
    def reset_breakers(self, request: HttpRequest, queryset: QuerySet[Instance]) -> None:
        self._each(request, queryset, actions.reset_breaker)

    @admin.action(description="Start (hold a session)", permissions=["change"])
    def start_instances(self, request: HttpRequest, queryset: QuerySet[Instance]) -> None:
        self._each(request, queryset, actions.start)

    @admin.action(description="Stop (close the session, keep the link)", permissions=["change"])
    def stop_instances(self, request: HttpRequest, queryset: QuerySet[Instance]) -> None:
        self._each(request, queryset, actions.stop)

    @admin.action(description="Log out (unlink the phone, delete the session store)", permissions=["change"])
    def logout_instances(self, request: HttpRequest, queryset: QuerySet[Instance]) -> None:
        self._each(request, queryset, actions.logout)


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    # A token is never moved to another user or un-revoked: issue a new one instead.
    readonly_fields = ["prefix", "user", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke_tokens"]

    def has_add_permission(self, request: HttpRequest) -> bool:  # raw keys are shown once, by `create_token`
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {revoked} token(s).")


@admin.register(InstanceEvent)
class InstanceEventAdmin(InstanceScopedAdmin):
    """The outbox, read-only: the status history the live page is built from."""

    list_display = ["id", "instance", "kind", "payload", "created_at"]
    list_filter = ["kind", ("instance", admin.RelatedOnlyFieldListFilter), "created_at"]
    list_select_related = ["instance"]
    search_fields = ["instance__instance_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkerProcess)
class WorkerProcessAdmin(admin.ModelAdmin):
    list_display = ["worker_id", "hostname", "pid", "instances_held", "heartbeat_at", "stopped_at"]
    readonly_fields = [f.name for f in WorkerProcess._meta.fields]


@admin.register(SandboxPhone)
class SandboxPhoneAdmin(InstanceScopedAdmin):
    pass


@admin.register(SandboxReceived)
class SandboxReceivedAdmin(InstanceScopedAdmin):
    list_display = ["id", "instance", "chat_id", "kind", "wa_message_id", "received_at", "revoked_at"]
    search_fields = ["instance__instance_id", "chat_id", "wa_message_id", "ref"]
