"""Bodies of the circuit breaker endpoints."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.instances import TokenBodySerializer
from breaker.models import BreakerState


class ResetBodySerializer(TokenBodySerializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Kept with the reset record."
    )


class FailureSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    counts = serializers.BooleanField(help_text="False for failures kept for the record only.")


class BreakerStatusSerializer(serializers.Serializer):
    instance_id = serializers.CharField()
    state = serializers.ChoiceField(choices=BreakerState.State.values)
    failures_in_window = serializers.IntegerField()
    consecutive_failures = serializers.IntegerField()
    threshold = serializers.IntegerField()
    window_s = serializers.FloatField()
    cooldown_s = serializers.FloatField()
    max_cooldown_s = serializers.FloatField()
    opened_at = serializers.DateTimeField(allow_null=True)
    open_until = serializers.DateTimeField(allow_null=True)
    retry_after_s = serializers.FloatField(allow_null=True)
    forced_reason = serializers.CharField(allow_null=True)
    last_reset_at = serializers.DateTimeField(allow_null=True)
    retry_attempts = serializers.IntegerField(help_text="Reconnect attempts since the last connect.")
    recent_failures = serializers.IntegerField(
        help_text="Failures counted in the window (Waziper's meaning; the failures themselves are "
        "recent_failure_events)."
    )
    circuit_breaker_active = serializers.BooleanField(help_text="The breaker is not closed.")
    session_exists = serializers.BooleanField(help_text="A worker has a WhatsApp session open for it.")
    connecting = serializers.BooleanField(help_text="A connection is under way.")
    last_failure_timestamps = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="When the counted failures happened, epoch ms, oldest first.",
    )
    recent_failure_events = FailureSerializer(many=True)
