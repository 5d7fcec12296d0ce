"""Breaker endpoints: POST /reset-circuit-breaker/<id>, GET /circuit-breaker-status/<id>."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import get_instance
from api.serializers.breaker import BreakerStatusSerializer, ResetBodySerializer
from breaker import service as breaker_service
from breaker.models import BreakerReset
from instances.redaction import shown_to
from kernel.envelope import success
from kernel.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, envelope, error_responses
from kernel.views import ApiView
from operations import control


class ResetBreakerView(ApiView):
    @extend_schema(
        operation_id="breaker_reset",
        tags=["circuit breaker"],
        summary="Reset an instance's circuit breaker (Waziper-compatible body)",
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
        instance = get_instance(request, instance_id, action="change")
        body = ResetBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        now = timezone.now()
        control.reset_breaker_and_wake(
            instance,
            source=BreakerReset.Source.API,
            now=now,
            user=request.user,
            reason=body.validated_data.get("reason", ""),
        )
        return success(
            f"Circuit breaker reset successfully for instance: {instance.instance_id}",
            instance_id=instance.instance_id,
        )


class BreakerStatusView(ApiView):
    @extend_schema(
        operation_id="breaker_status",
        tags=["circuit breaker"],
        summary="An instance's circuit breaker: state, failures in window, limits, recent failures",
        description="This project's figures, and beside them those of Waziper's server "
        "(`instance_id`, `retry_attempts`, `recent_failures` as a count, `circuit_breaker_active`, "
        "`session_exists`, `connecting`, `last_failure_timestamps`); the recent failures "
        "themselves are in `recent_failure_events`.",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={200: envelope("BreakerStatus", BreakerStatusSerializer()), **error_responses(404)},
    )
    def get(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="view")
        status = breaker_service.status(instance, now=timezone.now())
        for failure in status["recent_failure_events"]:
            failure["detail"] = shown_to(request.user, failure["detail"])
        return success("Success", status)
