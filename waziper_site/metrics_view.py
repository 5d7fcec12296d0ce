"""GET /metrics for Prometheus: staff only (a staff user's token as Bearer, or an admin session)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.views import APIView

from instances.auth import AccessTokenAuthentication
from waziper_site.metrics import exposition


class MetricsView(APIView):
    authentication_classes = [AccessTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAdminUser]
    throttle_classes: list[Any] = []

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
