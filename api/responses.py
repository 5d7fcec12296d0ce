"""Answers several views share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from breaker.service import Outlook
from instances.models import Instance
from kernel.envelope import ApiError, error
from operations import session_queries
from queueing import enqueue
from queueing.validation import validate_idempotency_key

SESSION_REFUSED = "Unable to create session at this time."
IDEMPOTENCY_HEADER = "Idempotency-Key"
T = TypeVar("T")
QUEUE_RETRY_AFTER_S = 2
FORCED_REASON = "Needs a person: request a new QR code (GET /get_qrcode) or reset the circuit breaker."


def breaker_refusal(look: Outlook) -> Response:
    """503 in the words Waziper's clients know, with Retry-After when the breaker says when (not
    when forced open: then only a person helps, and `reason` says how)."""
    extra: dict[str, Any] = {
        "circuit_breaker": True,
        "retry_after": look.retry_after_s,
        "breaker_state": look.state,
    }
    headers = None
    if look.retry_after_s is not None:
        headers = {"Retry-After": str(look.retry_after_s)}
    else:
        extra["reason"] = FORCED_REASON
    return error(SESSION_REFUSED, http_status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=headers, **extra)


# A refusal from the session, by its code, as an HTTP status: the question was wrong (400), the
# thing asked about does not exist or is not the account's (404/403), or WhatsApp failed (502).
_REFUSAL_STATUS = {
    "invalid": 400,
    "forbidden": 403,
    "not_found": 404,
    "gone": 410,  # WhatsApp no longer serves it (expired media)
    "too_large": 413,
    "unsupported": 501,
}


# What every endpoint that asks a live session says of its errors (OpenAPI descriptions).
ASKS_THE_SESSION = (
    "503 with the instance's state and Retry-After while no live session can answer; 504 when it "
    "does not answer within WAZIPER_SESSION_QUERY_TIMEOUT (the question is then cancelled)."
)


def ask_session(
    instance: Instance,
    op: str,
    args: dict[str, Any] | None = None,
    *,
    timeout: float | None = None,
    forget: bool = False,
) -> Any:
    """operations.session_queries.ask, its refusals turned into the API's errors (session_errors)."""
    with session_errors():
        return session_queries.ask(instance, op, args, timeout=timeout, forget=forget)


@contextmanager
def session_errors() -> Iterator[None]:
    """Around anything that asks a live session (operations.groups, contacts, chats …): 503 with
    the instance's state and Retry-After when no live session can answer, 504 when it did not
    answer in time (the question is cancelled), and the session's own refusal otherwise."""
    try:
        yield
    except session_queries.SessionUnavailable as exc:
        headers = {} if exc.retry_after_s is None else {"Retry-After": str(exc.retry_after_s)}
        raise ApiError(
            f"The instance cannot answer now: {exc.reason}.",
            http_status=status.HTTP_503_SERVICE_UNAVAILABLE,
            extra={"instance_status": exc.status, "retry_after": exc.retry_after_s},
            headers=headers,
        ) from None
    except session_queries.SessionTimeout as exc:
        raise ApiError(
            f"WhatsApp did not answer in time ({exc}); the question was cancelled.",
            http_status=status.HTTP_504_GATEWAY_TIMEOUT,
        ) from None
    except session_queries.SessionRefused as exc:
        raise ApiError(
            str(exc),
            http_status=_REFUSAL_STATUS.get(exc.code, status.HTTP_502_BAD_GATEWAY),
            extra={"reason": exc.code} if exc.code else {},
        ) from None


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key header, checked; None if it has none."""
    raw = request.headers.get(IDEMPOTENCY_HEADER)
    if raw is None:
        return None
    try:
        return validate_idempotency_key(raw.strip())
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({IDEMPOTENCY_HEADER: exc.messages}) from None


def queued(request: Request, write: Callable[[], T]) -> T | Response:
    """`write()`'s messages, or the answer to a queue that refused them: 400 naming a message it
    cannot act on, 503 + Retry-After when the database is busy (nothing queued), 409 for an
    Idempotency-Key used for another request."""
    try:
        return write()
    except DjangoValidationError as exc:  # the message it names cannot be acted on (references.py)
        raise exceptions.ValidationError(exc.message_dict) from None
    except enqueue.QueueUnavailable:
        return error(
            "The queue is temporarily unavailable (database busy); nothing was queued. Please retry.",
            http_status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(QUEUE_RETRY_AFTER_S)},
        )
    except enqueue.IdempotencyConflict:
        return error(
            f"This {IDEMPOTENCY_HEADER} was already used for a different request.",
            http_status=status.HTTP_409_CONFLICT,
        )
