"""What the live session knows about the linked account itself: GET /instances/<id>/profile."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import get_instance
from api.responses import ask_session
from api.serializers.profile import ProfileSerializer
from kernel.envelope import success
from kernel.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, envelope, error_responses
from kernel.views import ApiView


class InstanceProfileView(ApiView):
    @extend_schema(
        operation_id="instance_profile",
        tags=["session queries"],
        summary="The linked account's own profile, asked of the live session",
        description="Answered by the WhatsApp session the worker holds: 503 with the instance's "
        "state and Retry-After while it is not connected, 504 if it does not answer within "
        "WAZIPER_SESSION_QUERY_TIMEOUT (the question is then cancelled, never run late).",
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        responses={
            200: envelope("InstanceProfile", ProfileSerializer()),
            **error_responses(404, 502, 503, 504),
        },
    )
    def get(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="view")
        profile = ask_session(instance, "profile")
        return success("Success", ProfileSerializer(profile).data)
