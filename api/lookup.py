"""Finding the instance a request names, for what the caller wants to do with it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.request import Request

from instances import service as instances_service
from instances import visibility
from instances.models import Action, Instance
from kernel.envelope import ApiError

# Waziper's words, which its clients show to people; `reason` says it in this project's.
NOT_FOUND = "The Instance ID provided has been invalidated"
NOT_FOUND_REASON = "No instance with this id, or not one you may view."
ID_REQUIRED = "The Instance ID must be provided for the process to be completed"


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
        raise ApiError(
            ID_REQUIRED,
            http_status=status.HTTP_400_BAD_REQUEST,
            extra={"errors": {"instance_id": ["This field is required."]}},
        )
    if not isinstance(value, str):
        raise exceptions.ValidationError({"instance_id": ["Must be a string."]})
    return value.strip().upper()


def instance_not_found() -> ApiError:
    return ApiError(NOT_FOUND, http_status=status.HTTP_404_NOT_FOUND, extra={"reason": NOT_FOUND_REASON})


def check_reached_through(request: Request, instance: Instance, action: Action, not_found: str) -> None:
    """For a row reached through its instance (a message, a webhook endpoint): the caller must
    be allowed to `action` that instance. 404 with `not_found` (the row's own words) when they
    may not even view it, so its existence never leaks; 403 when they may view but not do this."""
    try:
        visibility.check(request.user, instance, action)
    except visibility.InstanceNotFound:
        raise exceptions.NotFound(not_found) from None
    except visibility.ActionNotAllowed as exc:
        raise exceptions.PermissionDenied(str(exc)) from None


def get_instance(
    request: Request, path_value: str | None = None, *, action: Action, first_use: bool = False
) -> Instance:
    """The named instance if the caller may `action` it (instances/visibility.py): 404 when they
    may not even view it (as for a missing one, so existence never leaks), 403 when they may
    view it but not do this.

    With `first_use`, and WAZIPER_CREATE_INSTANCE_ON_FIRST_USE on, an id nobody has is created
    for the caller, within their instance limit (403 past it)."""
    instance_id = requested_instance_id(request, path_value)
    try:
        # The owner comes along: every serializer of an instance shows the owner's name.
        return visibility.find_instance(
            request.user, instance_id, action, Instance.objects.select_related("owner")
        )
    except visibility.InstanceNotFound:
        if not (first_use and settings.WAZIPER_CREATE_INSTANCE_ON_FIRST_USE):
            raise instance_not_found() from None
    except visibility.ActionNotAllowed as exc:
        raise exceptions.PermissionDenied(str(exc)) from None
    return _created_on_first_use(request, instance_id)


def _created_on_first_use(request: Request, instance_id: str) -> Instance:
    try:
        return instances_service.create_on_first_use(request.user, instance_id)
    except DjangoValidationError as exc:
        reason = "; ".join(exc.message_dict.get("instance_id", exc.messages))
        raise ApiError(NOT_FOUND, http_status=status.HTTP_404_NOT_FOUND, extra={"reason": reason}) from None
    except instances_service.InstanceIdTaken:
        raise instance_not_found() from None  # someone else's: as if it did not exist
    except instances_service.InstanceLimitReached as exc:
        raise exceptions.PermissionDenied(str(exc)) from None
