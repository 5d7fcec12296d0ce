from __future__ import annotations

import json
import math
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from instances.models import Instance, SandboxReceived
from instances.redaction import shown_to
from instances.validation import (
    validate_instance_id,
    validate_instance_name,
    validate_proxy_url,
    validate_sandbox_behaviour,
)
from kernel.fields import StringField
from operations.proxies import may_use_private_proxy, proxy_refusal


def _drf(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class InstanceCreateSerializer(serializers.Serializer):
    instance_id = serializers.CharField(
        required=False,
        help_text="An id of your own, 13 hexadecimal characters (one a Waziper deployment already "
        "uses); a new one is made up if left out.",
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    transport = serializers.ChoiceField(choices=Instance.Transport.choices, required=False)
    proxy_url = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    sandbox = serializers.JSONField(required=False, default=dict)

    def validate_instance_id(self, value: str) -> str:
        return _drf(validate_instance_id, value)

    def validate_name(self, value: str) -> str:
        return _drf(validate_instance_name, value)

    def validate_proxy_url(self, value: str) -> str:
        value = _drf(validate_proxy_url, value)
        request = self.context.get("request")
        if value and not may_use_private_proxy(getattr(request, "user", None)):
            problem = proxy_refusal(value)
            if problem:
                raise serializers.ValidationError(problem)
        return value

    def validate_sandbox(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except (ValueError, RecursionError):  # RecursionError: nested too deeply
                raise serializers.ValidationError("Must be a JSON object.") from None
        return _drf(validate_sandbox_behaviour, value)


class InstanceSerializer(serializers.ModelSerializer):
    """An instance; `status_detail` in full only for staff (context `request`), see
    instances/redaction.py."""

    owner = serializers.CharField(source="owner.username", read_only=True)

    def to_representation(self, instance: Instance) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        data["status_detail"] = shown_to(getattr(request, "user", None), data["status_detail"])
        return data

    class Meta:
        model = Instance
        fields = [
            "instance_id",
            "name",
            "owner",
            "transport",
            "proxy_url",
            "sandbox",
            "desired_state",
            "status",
            "status_detail",
            "jid",
            "push_name",
            "connected_at",
            "last_seen_at",
            "retry_attempts",
            "next_attempt_at",
            "created_at",
        ]
        read_only_fields = fields


class BreakerSummarySerializer(serializers.Serializer):
    """What GET /instance says about the breaker; GET /circuit-breaker-status/<id> says more."""

    state = serializers.ChoiceField(choices=["closed", "open", "half_open", "forced_open"])
    allows_connect = serializers.BooleanField()
    open_until = serializers.DateTimeField(allow_null=True)
    retry_after_s = serializers.IntegerField(allow_null=True)


class InstanceStateSerializer(InstanceSerializer):
    """Documentation of GET /instance's `data`: Waziper's linked user (`id`, `name`, `avatar`),
    the instance (its own name as `instance_name`) and its breaker summary."""

    id = serializers.CharField(allow_null=True, help_text="The linked phone's JID; null if none.")
    name = serializers.CharField(
        allow_null=True, help_text="The linked phone's push name (else its number); null if none."
    )
    avatar = serializers.URLField(allow_null=True, help_text="A picture of the name's initials.")
    instance_name = serializers.CharField(source="name", help_text="The instance's own name.")
    breaker = BreakerSummarySerializer(read_only=True)

    class Meta(InstanceSerializer.Meta):
        fields = [
            "id",
            "name",
            "avatar",
            *(field for field in InstanceSerializer.Meta.fields if field != "name"),
            "instance_name",
            "breaker",
        ]
        read_only_fields = fields


def finite(value: float) -> None:
    if not math.isfinite(value):
        raise serializers.ValidationError("Must be a finite number.")


class QrQuerySerializer(serializers.Serializer):
    wait = serializers.FloatField(
        required=False,
        default=10.0,
        min_value=0,
        max_value=60,
        validators=[finite],
        help_text="Seconds to wait for a QR code to appear (0–60, default 10).",
    )


class OutboxQuerySerializer(serializers.Serializer):
    since = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=2**62, help_text="Only rows with a larger id."
    )
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=1000)


RECEIVED_FIELDS_HELP = (
    "The kind's own fields as the phone received them: a location's latitude, longitude, name "
    "and address; a contact's name and vcard; a poll's question, options and selectable_count; a "
    "reaction's emoji; `target_message_id` and `applied` (whether the phone had that message) for "
    "a reaction, edit or delete; `quoted_message_id`, `mentions` and `typing_s` when given; "
    "`reaction`: the emoji a later reaction put on this message."
)


class SandboxReceivedSerializer(serializers.ModelSerializer):
    class Meta:
        model = SandboxReceived
        fields = [
            "id",
            "wa_message_id",
            "chat_id",
            "kind",
            "text",
            "media_url",
            "filename",
            "media_bytes",
            "ref",
            "fields",
            "edited_at",
            "revoked_at",
            "received_at",
        ]
        read_only_fields = fields
        # `fields` is the model's JSON column (a serializer's own `fields` is its field map).
        extra_kwargs = {"fields": {"help_text": RECEIVED_FIELDS_HELP}}


class TokenBodySerializer(serializers.Serializer):
    """POST bodies of endpoints that take nothing else: Waziper clients may put the token here."""

    # Blank allowed: where the query string or a header also carries a value, that one wins.
    access_token = StringField(
        required=False, allow_blank=True, help_text="Or use the query string or a header."
    )


class InstanceBodySerializer(TokenBodySerializer):
    instance_id = StringField(required=False, allow_blank=True, help_text="Or use the query string.")
