from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from instances.models import Instance
from instances.validation import validate_instance_name, validate_proxy_url, validate_sandbox_behaviour


def _drf(check: Any, value: Any) -> Any:
    try:
        return check(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class InstanceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    transport = serializers.ChoiceField(choices=Instance.Transport.values, required=False)
    proxy_url = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    sandbox = serializers.JSONField(required=False, default=dict)

    def validate_name(self, value: str) -> str:
        return _drf(validate_instance_name, value)

    def validate_proxy_url(self, value: str) -> str:
        return _drf(validate_proxy_url, value)

    def validate_sandbox(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise serializers.ValidationError("Must be a JSON object.") from None
        return _drf(validate_sandbox_behaviour, value)


class InstanceSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)

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
