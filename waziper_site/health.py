"""GET /health: the seed's figures, plus the worker's heartbeat and the queue depth.

Cost is a fixed handful of aggregate queries whatever the number of instances.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from breaker.stats import open_breaker_count, recent_failure_count
from instances.stats import instance_summary, worker_summary
from queueing.stats import queue_summary

HEALTH_CACHE_KEY = "waziper:health"


def health_score(*, running: int, running_not_connected: int, open_breakers: int, worker_alive: bool) -> int:
    """0–100, higher is healthier.

    The old server used 100 − 40 × (share not connected) − 15 × (open breakers). Its breaker
    term is absolute, so any fleet with seven broken instances scored 0 whatever its size. We
    keep its weights' intent with shares: −40 × share of running instances not connected,
    −30 × share of running instances whose breaker is open, −30 when no worker is alive (then
    nothing can connect or send, however the rows look). Stopped instances are deliberate and
    do not count.
    """
    score = 100.0
    if running > 0:
        score -= 40.0 * min(running_not_connected, running) / running
        score -= 30.0 * min(open_breakers, running) / running
    if not worker_alive:
        score -= 30.0
    return max(0, min(100, round(score)))


def health_payload() -> dict[str, Any]:
    now = timezone.now()
    instances = instance_summary()
    open_breakers = open_breaker_count()
    worker = worker_summary(now)
    queue = queue_summary()
    return {
        "status": "success",
        "message": "Server is running",
        "data": {
            "server_status": "running",
            "total_instances": instances["total"],
            "active_connections": instances["connected"],
            "connecting": instances["connecting"],
            "circuit_breaker_activations": open_breakers,
            "total_retry_attempts": instances["retry_attempts"],
            "total_recent_failures": recent_failure_count(now),
            "health_score": health_score(
                running=instances["running"],
                running_not_connected=instances["running_not_connected"],
                open_breakers=open_breakers,
                worker_alive=worker["alive"],
            ),
            "worker": worker,
            "queue": queue,
        },
        "timestamp": now.isoformat().replace("+00:00", "Z"),
    }


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
    """Public, like the seed's: monitoring probes call it without a token. Aggregates only."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(summary="Server health (seed-compatible)", responses={200: _health_response}, auth=[])
    def get(self, request: Request) -> Response:
        # The instance figures are one aggregate over the whole table; monitors polling many
        # times a second share one computation per WAZIPER_HEALTH_CACHE_S in each process.
        payload = cache.get(HEALTH_CACHE_KEY)
        if payload is None:
            payload = health_payload()
            if settings.WAZIPER_HEALTH_CACHE_S > 0:
                cache.set(HEALTH_CACHE_KEY, payload, settings.WAZIPER_HEALTH_CACHE_S)
        return Response(payload)
