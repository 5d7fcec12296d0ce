"""GET /health: the figures of operations/health.py, public and cached per process."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from operations.health import health_payload

HEALTH_CACHE_KEY = "waziper:health"


_health_response = inline_serializer(
    "Health",
    fields={
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "data": inline_serializer(
            "HealthData",
            fields={
                "server_status": serializers.CharField(),
                "total_instances": serializers.IntegerField(),
                "active_connections": serializers.IntegerField(),
                "connecting": serializers.IntegerField(),
                "circuit_breaker_activations": serializers.IntegerField(),
                "total_retry_attempts": serializers.IntegerField(),
                "total_recent_failures": serializers.IntegerField(),
                "health_score": serializers.IntegerField(min_value=0, max_value=100),
                "worker": serializers.DictField(),
                "queue": serializers.DictField(),
            },
        ),
        "timestamp": serializers.DateTimeField(),
    },
)


class HealthView(APIView):
    """Public: monitoring probes call it without a token. Aggregates only."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        summary="Server health (the Waziper server's shape)", responses={200: _health_response}, auth=[]
    )
    def get(self, request: Request) -> Response:
        # The instance figures are one aggregate over the whole table; monitors polling many
        # times a second share one computation per WAZIPER_HEALTH_CACHE_S in each process.
        payload = cache.get(HEALTH_CACHE_KEY)
        if payload is None:
            payload = health_payload()
            if settings.WAZIPER_HEALTH_CACHE_S > 0:
                cache.set(HEALTH_CACHE_KEY, payload, settings.WAZIPER_HEALTH_CACHE_S)
        return Response(payload)
