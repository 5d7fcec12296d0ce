"""The response envelope every endpoint answers with, and the one exception handler behind it.

Waziper's clients read `status` and `message` and ignore the HTTP status; we keep that body and
also send the real HTTP code, so other clients and proxies see a failure as one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("waziper.api")

INTERNAL_ERROR_MESSAGE = "Internal server error. The error was logged; please try again later."
# Waziper's words for a missing or wrong token, which its clients show to people; this
# project's more precise reason goes beside it.
AUTHENTICATION_FAILED = "The authentication process has failed"


def success(
    message: str, data: Any = None, *, http_status: int = status.HTTP_200_OK, **extra: Any
) -> Response:
    body: dict[str, Any] = {"status": "success", "message": message}
    if data is not None:
        body["data"] = data
    body.update(extra)
    return Response(body, status=http_status)


def error(message: str, *, http_status: int, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {"status": "error", "message": message}
    body.update(extra)
    return Response(body, status=http_status, headers=headers)


class Conflict(exceptions.APIException):
    """409: the resource exists but is not in a state (or of a kind) that allows the request."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is busy or unavailable; please retry shortly."
    default_code = "database_unavailable"
    retry_after_s = 5


class ApiError(exceptions.APIException):
    """An error whose body carries more than a message (`extra` fields) and whose response
    carries headers (Retry-After …): `{"status": "error", "message": detail, **extra}`."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = http_status
        self.extra = extra or {}
        self.headers = headers or {}


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


def _field_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's nested ValidationError detail → `{"field": ["reason", …]}` (nested fields dotted)."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            for sub, messages in _field_errors(value).items():
                name = str(key) if sub == "non_field_errors" else f"{key}.{sub}"
                out.setdefault(name, []).extend(messages)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {"non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            for sub, messages in _field_errors(item).items():
                name = str(index) if sub == "non_field_errors" else f"{index}.{sub}"
                out.setdefault(name, []).extend(messages)
        return out
    return {"non_field_errors": [str(detail)]}


def _summary(errors: dict[str, list[str]]) -> str:
    parts = [
        f"{field}: {msgs[0]}" if field != "non_field_errors" else msgs[0] for field, msgs in errors.items()
    ]
    return "Invalid request. " + "; ".join(parts[:3]) + ("; …" if len(parts) > 3 else "")


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error as `{"status": "error", "message": …}` with the right HTTP code; never a 500
    for a client's mistake, and a 500 that shows no internals (the traceback goes to the log)."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "Bad request.")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, OperationalError):
        # A locked, full or unreachable database is the server's passing trouble, not a bug:
        # tell the client to come back rather than answering 500.
        logger.warning("database unavailable: %s", exc)
        exc = DatabaseUnavailable()

    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.exception("unhandled error in %s", type(view).__name__ if view else "view", exc_info=exc)
        return error(INTERNAL_ERROR_MESSAGE, http_status=status.HTTP_500_INTERNAL_SERVER_ERROR)

    # Every exception reaching here is an APIException: drf_exception_handler answers no other.
    assert isinstance(exc, exceptions.APIException)
    body: dict[str, Any] = {"status": "error"}
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        body["message"] = _summary(errors)
        body["errors"] = errors
    elif isinstance(exc.detail, dict | list):
        errors = _field_errors(exc.detail)
        body["message"] = _summary(errors)
        body["errors"] = errors
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        body["message"] = AUTHENTICATION_FAILED
        body["reason"] = str(exc.detail)
    else:
        body["message"] = str(exc.detail)
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        body["retry_after"] = int(wait + 0.999)
    if isinstance(exc, DatabaseUnavailable):
        body["retry_after"] = exc.retry_after_s
        response["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, ApiError):
        body.update(exc.extra)
        for name, value in exc.headers.items():
            response[name] = value
    response.data = body
    return response


# --- Django-level handlers, for errors raised outside DRF views (unknown paths, CSRF, …) ------


def _wants_html(request: HttpRequest) -> bool:
    """Only the admin (and its dashboard pages) answers errors as HTML pages. Everywhere else
    the answer is JSON whatever `Accept` says: Waziper's PHP client sends a browser's
    `Accept: text/html,…,*/*` and `json_decode`s the body, so an HTML 404 is a failure to it."""
    return request.path.startswith("/admin/") or request.path == "/admin"


def handler404(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _wants_html(request):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception)
    return JsonResponse({"status": "error", "message": "Not found."}, status=404)


def handler400(request: HttpRequest, exception: Exception | None = None) -> Any:
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"status": "error", "message": "Request body too large."}, status=413)
    return JsonResponse({"status": "error", "message": "Bad request."}, status=400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> Any:
    if _wants_html(request):
        from django.views.defaults import permission_denied

        return permission_denied(request, exception or PermissionDenied())
    return JsonResponse({"status": "error", "message": "Forbidden."}, status=403)


def handler500(request: HttpRequest) -> Any:
    return JsonResponse({"status": "error", "message": INTERNAL_ERROR_MESSAGE}, status=500)
