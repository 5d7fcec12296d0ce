"""Request and response shapes of POST /instances/<id>/read."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from api.serializers.groups import SeparatedListField, participant_id
from kernel.fields import StringField
from operations.chats import MARK_READ_LIMIT
from queueing.validation import GROUP_JID_RE

# WhatsApp's message ids: hex or base32-ish letters and digits, 3EB0… from the web, longer from
# phones; never spaces or quotes.
MESSAGE_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class MessageIdsField(SeparatedListField):
    what = "WhatsApp message ids"

    def item(self, value: str) -> str:
        if not MESSAGE_ID_RE.match(value):
            raise ValueError(value)
        return value


class MarkReadSerializer(serializers.Serializer):
    chat_id = StringField(help_text="The chat: a phone number, a user JID, a …@lid id or a group …@g.us")
    message_ids = MessageIdsField(
        max_items=MARK_READ_LIMIT,
        help_text=f"WhatsApp's ids of the messages read (at most {MARK_READ_LIMIT}; a list, or "
        "separated by commas).",
    )
    sender = StringField(
        required=False,
        help_text="In a group: who wrote the messages (a phone number or JID). Required there.",
    )

    def validate_chat_id(self, value: str) -> str:
        if match := GROUP_JID_RE.match(value.strip()):
            return f"{match.group(1)}@g.us"
        try:
            return participant_id(value)
        except ValueError:
            raise serializers.ValidationError(
                "Must be a phone number, a JID such as 6281234567890@s.whatsapp.net, or a group …@g.us."
            ) from None

    def validate_sender(self, value: str) -> str:
        try:
            return participant_id(value)
        except ValueError:
            raise serializers.ValidationError("Must be a phone number or a user JID.") from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["chat_id"].endswith("@g.us") and not attrs.get("sender"):
            raise serializers.ValidationError(
                {"sender": ["Required for a group's messages: who wrote them."]}
            )
        return attrs


class MarkedReadSerializer(serializers.Serializer):
    chat_id = serializers.CharField()
    read = serializers.IntegerField(help_text="Messages marked read")
