"""Prometheus metrics.

Counters are per process (the worker's transitions and sends happen in the worker: scrape it on
WAZIPER_WORKER_METRICS_PORT). The fleet gauges are read from the database at scrape time, so
GET /metrics on any web process shows every instance whichever worker holds it.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

BREAKER_TRANSITIONS = Counter(
    "waziper_breaker_transitions_total", "Circuit breaker transitions", ["to_state"]
)
FAILURES = Counter("waziper_failures_total", "Recorded connection failures", ["kind"])
CONNECT_ATTEMPTS = Counter("waziper_connect_attempts_total", "Connect attempts started", ["transport"])
MESSAGES = Counter("waziper_messages_total", "Queue outcomes", ["outcome"])
SESSIONS = Gauge("waziper_worker_sessions", "Sessions held by this worker, by instance status", ["status"])


class FleetCollector(Collector):
    """Instances by status, breakers by state, messages by status: three GROUP BY queries."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from breaker.models import BreakerState
        from instances.models import Instance
        from queueing.models import QueuedMessage

        for name, help_text, model, field in (
            ("waziper_instances", "Instances by status", Instance, "status"),
            ("waziper_breakers", "Circuit breakers by state", BreakerState, "state"),
            ("waziper_queue_messages", "Queued messages by status", QueuedMessage, "status"),
        ):
            family = GaugeMetricFamily(name, help_text, labels=[field])
            for value, count in model.objects.values_list(field).annotate(n=Count("pk")).order_by():
                family.add_metric([value], count)
            yield family


FLEET = CollectorRegistry(auto_describe=False)
FLEET.register(FleetCollector())


def exposition() -> bytes:
    """This process's counters followed by the fleet gauges, in the text format."""
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY) + generate_latest(FLEET)
