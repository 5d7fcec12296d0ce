"""Finding the instance a request names, scoped to the caller."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request

from instances.models import Instance, is_instance_id

NOT_FOUND = "Instance not found."


def requested_instance_id(request: Request, path_value: str | None = None) -> str:
    """The instance id from the path, the query string or the body (Waziper puts it anywhere)."""
    value: Any = path_value
    if value is None:
        value = request.query_params.get("instance_id")
    if value is None and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        data: Any = request.data
        if hasattr(data, "get"):
            value = data.get("instance_id")
    if value in (None, ""):
        raise exceptions.ValidationError({"instance_id": ["This field is required."]})
    if not isinstance(value, str):
        raise exceptions.ValidationError({"instance_id": ["Must be a string."]})
    return value.strip().upper()


def get_instance(request: Request, path_value: str | None = None) -> Instance:
    """The caller's instance, or 404 — also for someone else's, so existence never leaks."""
    instance_id = requested_instance_id(request, path_value)
    if not is_instance_id(instance_id):
        raise exceptions.NotFound(NOT_FOUND)
    # The owner comes along: every serializer of an instance shows the owner's name.
    queryset = Instance.objects.visible_to(request.user).select_related("owner")
    instance = queryset.filter(instance_id=instance_id).first()
    if instance is None:
        raise exceptions.NotFound(NOT_FOUND)
    return instance
