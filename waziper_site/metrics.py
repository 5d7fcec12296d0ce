"""Prometheus metrics. Each process keeps its own registry (web: GET /metrics; worker: optional port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BREAKER_TRANSITIONS = Counter(
    "waziper_breaker_transitions_total", "Circuit breaker transitions", ["to_state"]
)
FAILURES = Counter("waziper_failures_total", "Recorded connection failures", ["kind"])
CONNECT_ATTEMPTS = Counter("waziper_connect_attempts_total", "Connect attempts started", ["transport"])
MESSAGES = Counter("waziper_messages_total", "Queue outcomes", ["outcome"])
SESSIONS = Gauge("waziper_worker_sessions", "Sessions held by this worker", ["status"])
