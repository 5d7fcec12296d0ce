from __future__ import annotations

from django.urls import path

from breaker import api

urlpatterns = [
    path("reset-circuit-breaker/<str:instance_id>", api.ResetBreakerView.as_view(), name="breaker-reset"),
    path("circuit-breaker-status/<str:instance_id>", api.BreakerStatusView.as_view(), name="breaker-status"),
]
