"""GET /metrics for Prometheus: staff only (a staff user's token as Bearer, or an admin session)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.views import APIView

from breaker.models import BreakerState
from instances.auth import AccessTokenAuthentication
from instances.models import Instance
from queueing.models import QueuedMessage
from webhooks import stats as webhook_stats
from webhooks.models import WebhookDelivery


class FleetCollector(Collector):
    """Instances by status, breakers by state, messages and webhook deliveries by status (GROUP BY
    queries), and each webhook endpoint's backlog and the age of its oldest undelivered event."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, help_text, model, field in (
            ("waziper_instances", "Instances by status", Instance, "status"),
            ("waziper_breakers", "Circuit breakers by state", BreakerState, "state"),
            ("waziper_queue_messages", "Queued messages by status", QueuedMessage, "status"),
            ("waziper_webhook_deliveries", "Webhook deliveries kept, by status", WebhookDelivery, "status"),
        ):
            family = GaugeMetricFamily(name, help_text, labels=[field])
            for value, count in model.objects.values_list(field).annotate(n=Count("pk")).order_by():
                family.add_metric([value], count)
            yield family
        yield GaugeMetricFamily(
            "waziper_webhook_attempts",
            "POSTs made for the webhook deliveries kept",
            value=webhook_stats.attempts_total(),
        )
        backlog = GaugeMetricFamily(
            "waziper_webhook_backlog", "Undelivered webhook deliveries per endpoint", labels=["endpoint"]
        )
        oldest = GaugeMetricFamily(
            "waziper_webhook_oldest_pending_seconds",
            "Age of each endpoint's oldest undelivered webhook event",
            labels=["endpoint"],
        )
        for row in webhook_stats.backlogs(timezone.now()):
            backlog.add_metric([str(row.endpoint_id)], row.waiting)
            oldest.add_metric([str(row.endpoint_id)], row.oldest_age_s)
        yield backlog
        yield oldest


FLEET = CollectorRegistry(auto_describe=False)
FLEET.register(FleetCollector())


def exposition() -> bytes:
    """This process's counters followed by the fleet gauges, in the text format."""
    return generate_latest(REGISTRY) + generate_latest(FLEET)


class MetricsView(APIView):
    authentication_classes = [AccessTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAdminUser]
    throttle_classes: list[Any] = []

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
