"""Websocket routes: the live QR/status consumer (instances/consumers.py)."""

from __future__ import annotations

from django.urls import URLPattern, re_path

from live.consumers import InstanceConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^ws/instances/(?P<instance_id>[^/]+)/?$", InstanceConsumer.as_asgi()),
]
