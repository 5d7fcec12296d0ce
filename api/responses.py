"""Answers several views share."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response

from breaker.service import Outlook
from kernel.envelope import error

SESSION_REFUSED = "Unable to create session at this time."
FORCED_REASON = "Needs a person: request a new QR code (GET /get_qrcode) or reset the circuit breaker."


def breaker_refusal(look: Outlook) -> Response:
    """503 in the seed's words, with Retry-After when the breaker says when (not when forced open:
    then only a person helps, and `reason` says how)."""
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
