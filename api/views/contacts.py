"""Contacts as the instance's WhatsApp account sees them: GET /instances/<id>/contacts/check and
GET /instances/<id>/contacts/<phone>/picture (operations/contacts.py). Both read (`view`)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.lookup import get_instance
from api.responses import ASKS_THE_SESSION, session_errors
from api.serializers.contacts import NumberCheckQuerySerializer, NumberCheckSerializer, PictureSerializer
from api.serializers.groups import participant_id
from kernel.envelope import success
from kernel.schema import ACCESS_TOKEN_QUERY, INSTANCE_ID_PATH, envelope, error_responses
from kernel.views import ApiView
from operations import contacts
from operations.contacts import CHECK_BATCH

TAGS = ["contacts"]
PHONE_PATH = OpenApiParameter(
    "phone",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    pattern=r"^\+?[0-9]{8,15}(@s\.whatsapp\.net)?$",
    description="A phone number (digits, an optional +) or a user JID.",
)


class NumberCheckView(ApiView):
    @extend_schema(
        operation_id="contacts_check",
        tags=TAGS,
        summary="Which phone numbers have WhatsApp, and their JIDs",
        description=f"At most {CHECK_BATCH} numbers per call. Numbers checked within "
        "WAZIPER_NUMBER_CHECK_CACHE_S are answered from the database (`cached: true`); the rest "
        "are asked of the live session in one question. " + ASKS_THE_SESSION,
        parameters=[INSTANCE_ID_PATH, ACCESS_TOKEN_QUERY, NumberCheckQuerySerializer],
        responses={
            200: envelope("NumberCheck", NumberCheckSerializer()),
            **error_responses(404, 502, 503, 504),
        },
    )
    def get(self, request: Request, instance_id: str) -> Response:
        instance = get_instance(request, instance_id, action="view")
        query = NumberCheckQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        phones = [phone.split("@")[0] for phone in query.validated_data["phones"]]
        with session_errors():
            checked = contacts.check_numbers(instance, phones, refresh=query.validated_data["refresh"])
        numbers = [
            {**c.number.as_dict(), "checked_at": c.number.checked_at, "cached": c.cached} for c in checked
        ]
        return success("Success", NumberCheckSerializer({"count": len(numbers), "numbers": numbers}).data)


class PictureView(ApiView):
    @extend_schema(
        operation_id="contacts_picture",
        tags=TAGS,
        summary="A contact's profile picture URL",
        description="`url` is null with a `reason` (not_set, hidden) when WhatsApp shows none to "
        "this account. " + ASKS_THE_SESSION,
        parameters=[INSTANCE_ID_PATH, PHONE_PATH, ACCESS_TOKEN_QUERY],
        responses={200: envelope("Picture", PictureSerializer()), **error_responses(404, 502, 503, 504)},
    )
    def get(self, request: Request, instance_id: str, phone: str) -> Response:
        instance = get_instance(request, instance_id, action="view")
        try:
            jid = participant_id(phone, lid=False)
        except ValueError:
            raise serializers.ValidationError(
                {"phone": ["Must be a phone number of 8 to 15 digits (with an optional +) or a user JID."]}
            ) from None
        with session_errors():
            picture = contacts.picture(instance, jid)
        return success("Success", PictureSerializer(picture).data)
