"""The base class of the API's views (the queue's views may use it too)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView

BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class ApiView(APIView):
    """Parses every request body up front, so a malformed one is a 400 even when the view needs
    nothing from it: Waziper clients send the instance id in the query string and may still send
    a body, and silently ignoring a body the client believes it sent would hide its bug."""

    # Every body is an object of named fields (a JSON object, a form); a view taking a bare
    # JSON array or scalar sets this to False.
    body_must_be_object = True

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # Every answer is one tenant's (QR codes, message text, phone numbers, instance state),
        # none is worth caching, and a new endpoint must not be able to forget it: no browser,
        # proxy or CDN keeps a copy of any API answer, errors included.
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in BODY_METHODS or not request.content_type:
            return
        data = request.data  # parsing raises ParseError: 400
        if self.body_must_be_object and not isinstance(data, dict):
            raise exceptions.ParseError("The request body must be a JSON object or a form.")
        if request.content_type.startswith("multipart/") and not data and not request.FILES:
            # Django's parser skips what it cannot read: a non-empty body with no part in it is
            # malformed, not an empty form.
            if int(request.META.get("CONTENT_LENGTH") or 0) > 0:
                raise exceptions.ParseError("Malformed multipart body: no part could be read.")
