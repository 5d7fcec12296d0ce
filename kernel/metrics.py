"""Prometheus metric definitions, shared by every process that updates them.

Counters are per process (the worker's transitions and sends happen in the worker: scrape it on
WAZIPER_WORKER_METRICS_PORT). The fleet gauges (waziper_site/metrics_view.py) are read from the
database at scrape time, so GET /metrics on any web process shows every instance.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BREAKER_TRANSITIONS = Counter(
    "waziper_breaker_transitions_total", "Circuit breaker transitions", ["to_state"]
)
FAILURES = Counter("waziper_failures_total", "Recorded connection failures", ["kind"])
CONNECT_ATTEMPTS = Counter("waziper_connect_attempts_total", "Connect attempts started", ["transport"])
MESSAGES = Counter("waziper_messages_total", "Queue outcomes", ["outcome"])
SESSIONS = Gauge("waziper_worker_sessions", "Sessions held by this worker, by instance status", ["status"])
WEBHOOK_DELIVERIES = Counter(
    "waziper_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, retry, dead, gone, released)",
    ["outcome"],
)
WEBHOOK_ATTEMPTS = Counter("waziper_webhook_attempts_total", "Webhook POSTs started")
WEBHOOK_BREAKER_TRANSITIONS = Counter(
    "waziper_webhook_breaker_transitions_total", "Webhook endpoint breaker transitions", ["to_state"]
)
