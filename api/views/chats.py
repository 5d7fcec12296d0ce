"""What the account does in a chat besides sending: POST /instances/<id>/read marks messages
read (operations/chats.py), a change (`change` on the instance)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import get_instance
from api.responses import ASKS_THE_SESSION, session_errors
from api.serializers.chats import MarkedReadSerializer, MarkReadSerializer
from kernel.envelope import success
from kernel.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, envelope, error_responses
from kernel.views import ApiView
from operations import chats


class MarkReadView(ApiView):
    @extend_schema(
        operation_id="chats_mark_read",
        tags=["chats"],
        summary="Mark messages of a chat read (blue ticks)",
        description="By WhatsApp's message ids; in a group, `sender` names who wrote them. "
        + ASKS_THE_SESSION,
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY],
        request=MarkReadSerializer,
        responses={
            200: envelope("MarkedRead", MarkedReadSerializer(), "Marked read"),
            **error_responses(404, 502, 503, 504, body=True),
        },
    )
    def post(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="change")
        body = MarkReadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        chat_id = body.validated_data["chat_id"]
        with session_errors():
            read = chats.mark_read(
                instance,
                chat_id,
                body.validated_data["message_ids"],
                sender=body.validated_data.get("sender"),
            )
        return success("Marked read", MarkedReadSerializer({"chat_id": chat_id, "read": read}).data)
