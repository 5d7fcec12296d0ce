"""API request throttles."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per access token (per client address without one), rate from WAZIPER_THROTTLE_RATE."""

    scope = "token"

    def get_rate(self) -> str:
        # Read per request (not at import) so operators' and tests' settings take effect.
        return settings.WAZIPER_THROTTLE_RATE

    def get_cache_key(self, request: Request, view: Any) -> str:
        auth = getattr(request, "auth", None)
        ident = f"t{auth.pk}" if getattr(auth, "pk", None) else f"ip{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
