"""Breaker endpoints (reset, status) and the breaker's part of GET /instance and GET /get_qrcode.

Reads here; every change goes through breaker.service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from breaker import policy
from breaker import service as breaker_service
from breaker.models import BreakerReset, BreakerState
from instances import service as instances_service
from instances.api.base import ApiView
from instances.api.lookup import get_instance
from instances.api.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, envelope, error_responses
from instances.api.serializers import TokenBodySerializer
from instances.models import Instance
from waziper_site.api import error, success

SESSION_REFUSED = "Unable to create session at this time."
FORCED_REASON = "Needs a person: request a new QR code (GET /get_qrcode) or reset the circuit breaker."


@dataclass(frozen=True)
class Outlook:
    """May the instance connect now, as the breaker's policy sees it (without claiming a probe)."""

    state: str
    allows_connect: bool
    open_until: datetime | None
    retry_after_s: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "allows_connect": self.allows_connect,
            "open_until": self.open_until.isoformat() if self.open_until else None,
            "retry_after_s": self.retry_after_s,
        }


def outlook(instance: Instance, now: datetime) -> Outlook:
    """One indexed read; an instance that never failed has no breaker row and is closed."""
    row = (
        BreakerState.objects.filter(pk=instance.pk)
        .values_list("state", "open_until", "probe_lease_until")
        .first()
    )
    if row is None:
        return Outlook(policy.CLOSED, True, None, None)
    state, open_until, probe_lease_until = row
    view = policy.BreakerView(state=state, open_until=open_until, probe_lease_until=probe_lease_until)
    decision = policy.decide_connect(view, now)
    wait = decision.retry_after_s
    # Round up and never say 0: a client told "retry after 0" retries at once and is refused.
    retry_after = None if wait is None else max(1, math.ceil(wait))
    return Outlook(state, decision.allowed, open_until, retry_after)


def refusal(look: Outlook) -> Response:
    """503 in the seed's words, with Retry-After when the breaker says when (not when forced open:
    then only a person helps, and `reason` says how)."""
    extra: dict[str, Any] = {
        "circuit_breaker": True,
        "retry_after": look.retry_after_s,
        "breaker_state": look.state,
    }
    headers = None
    if look.retry_after_s is not None:
        headers = {"Retry-After": str(look.retry_after_s)}
    else:
        extra["reason"] = FORCED_REASON
    return error(SESSION_REFUSED, http_status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=headers, **extra)


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
    retry_attempts = serializers.IntegerField()
    recent_failures = FailureSerializer(many=True)


class ResetBreakerView(ApiView):
    @extend_schema(
        operation_id="breaker_reset",
        tags=["circuit breaker"],
        summary="Reset an instance's circuit breaker (seed-compatible body)",
        description="Closes the breaker and counts failures from now on; history is kept and the "
        "reset is recorded with who and why. Owner or staff only.",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=ResetBodySerializer,
        responses={
            200: envelope(
                "BreakerReset",
                message="Circuit breaker reset successfully for instance: 6921B60FBF7D9",
                instance_id=serializers.CharField(),
            ),
            **error_responses(404, body=True),
        },
    )
    def post(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id)
        body = ResetBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        now = timezone.now()
        breaker_service.reset(
            instance,
            source=BreakerReset.Source.API,
            now=now,
            user=request.user,
            reason=body.validated_data.get("reason", ""),
        )
        instances_service.nudge_reconnect(instance, now)
        return success(
            f"Circuit breaker reset successfully for instance: {instance.instance_id}",
            instance_id=instance.instance_id,
        )


class BreakerStatusView(ApiView):
    @extend_schema(
        operation_id="breaker_status",
        tags=["circuit breaker"],
        summary="An instance's circuit breaker: state, failures in window, limits, recent failures",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={200: envelope("BreakerStatus", BreakerStatusSerializer()), **error_responses(404)},
    )
    def get(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id)
        return success("Success", breaker_service.status(instance, now=timezone.now()))
