"""GET /messages, GET /messages/<id> for a received message, and the sandbox contacts' messages.

A received message's fields come from inbox.service.message_dict (the outbox events carry the
same dict); the serializers of received messages here describe it for the schema.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rest_framework import serializers

from api.serializers.queue import MessageSerializer
from inbox.models import InboundMessage
from instances import sandbox_phone
from kernel.fields import StringField

LIST_LIMIT = 200
LIST_DEFAULT = 50
_PHONE = re.compile(r"^\+?([0-9]{5,20})$")
_JID = re.compile(r"^[0-9A-Za-z_.:-]{1,64}@(s\.whatsapp\.net|g\.us|lid|c\.us|broadcast|newsletter)$")


@dataclass(frozen=True)
class Cursor:
    """Where a page of GET /messages ends: newest first by (time, direction, id)."""

    time: datetime
    direction: str
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.time.isoformat(), self.direction, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            time, direction, pk = json.loads(raw)
            parsed = datetime.fromisoformat(time)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
            raise serializers.ValidationError("Not a cursor this API gave out.") from None
        if direction not in ("in", "out") or not isinstance(pk, int) or parsed.tzinfo is None:
            raise serializers.ValidationError("Not a cursor this API gave out.")
        return cls(parsed, direction, pk)


@dataclass(frozen=True)
class ChatFilter:
    """A chat as the caller names it: phone digits, or a JID."""

    jid: str
    phone: str


class MessageListQuerySerializer(serializers.Serializer):
    instance_id = StringField(required=False, help_text="Only this instance's messages.")
    direction = serializers.ChoiceField(
        choices=["in", "out"], required=False, help_text="in: received; out: sent through the queue."
    )
    chat = StringField(
        required=False, max_length=128, help_text="A phone number in digits or a JID (a person or a group)."
    )
    since = serializers.DateTimeField(required=False, help_text="Received or queued at or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Received or queued before (ISO 8601).")
    cursor = StringField(required=False, max_length=512, help_text="`next` of the previous page.")
    limit = serializers.IntegerField(required=False, default=LIST_DEFAULT, min_value=1, max_value=LIST_LIMIT)

    def to_internal_value(self, data: Any) -> Any:
        # A query string's `chat=` would otherwise count as no filter at all: say it is empty.
        blank = {name: ["May not be blank."] for name, _field in self.fields.items() if _blank(data, name)}
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)

    def validate_chat(self, value: str) -> ChatFilter:
        value = value.strip()
        if match := _PHONE.match(value):
            return ChatFilter(f"{match.group(1)}@s.whatsapp.net", match.group(1))
        if _JID.match(value.lower()):
            jid = value.lower().replace("@c.us", "@s.whatsapp.net")
            user, server = jid.split("@")
            return ChatFilter(jid, user if server == "s.whatsapp.net" and user.isdigit() else "")
        raise serializers.ValidationError(
            "Must be a phone number in digits or a JID such as 628123@s.whatsapp.net."
        )

    def validate_cursor(self, value: str) -> Cursor:
        return Cursor.decode(value)


def _blank(data: Any, name: str) -> bool:
    return hasattr(data, "get") and isinstance(data.get(name), str) and not data.get(name).strip()


class InboundMediaSerializer(serializers.Serializer):
    mimetype = serializers.CharField()
    size = serializers.IntegerField(allow_null=True)
    filename = serializers.CharField()
    sha256 = serializers.CharField(help_text="Hex; '' when WhatsApp gave none")


class ReactionSerializer(serializers.Serializer):
    emoji = serializers.CharField()
    sender = serializers.CharField()
    sender_phone = serializers.CharField()
    at = serializers.CharField(allow_null=True)


class InboundListItemSerializer(serializers.Serializer):
    """A received message (inbox.service.message_dict) without its raw copy."""

    id = serializers.CharField(help_text="`in_` and a number: never a queued message's UUID")
    instance_id = serializers.CharField()
    direction = serializers.CharField(help_text="in")
    wa_message_id = serializers.CharField()
    chat = serializers.CharField()
    sender = serializers.CharField()
    sender_phone = serializers.CharField(help_text="Digits; '' where WhatsApp hides the number")
    from_me = serializers.BooleanField(help_text="Sent by the linked account from another device")
    is_group = serializers.BooleanField()
    push_name = serializers.CharField()
    # Plain strings in the schema: enums named `kind` elsewhere would collide with these.
    kind = serializers.CharField(help_text=" | ".join(InboundMessage.Kind.values))
    text = serializers.CharField(help_text="The text, a caption, a reaction's emoji or an edit's new text")
    media = InboundMediaSerializer(allow_null=True)
    details = serializers.DictField(help_text="location | contacts | poll, and view_once / ephemeral flags")
    quoted_message_id = serializers.CharField(allow_null=True)
    target_message_id = serializers.CharField(
        allow_null=True, help_text="Reactions, edits and revokes: the WhatsApp id of the message they change"
    )
    reactions = ReactionSerializer(many=True)
    sent_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class InboundMessageSerializer(InboundListItemSerializer):
    """A received message as GET /messages/<id> shows it and the message.* events carry it."""

    raw = serializers.DictField(
        help_text="The WhatsApp message (key, message, messageTimestamp, pushName), at most 16 KiB"
    )


class OutboundListItemSerializer(MessageSerializer):
    """A queued message (GET /messages/<uuid>) with the list's `id` and `direction`."""

    id = serializers.CharField(source="message_id", read_only=True)
    direction = serializers.SerializerMethodField()

    class Meta(MessageSerializer.Meta):
        fields = ["id", "direction", *MessageSerializer.Meta.fields]
        read_only_fields = fields

    def get_direction(self, _message: Any) -> str:
        return "out"


class SandboxIncomingSerializer(serializers.Serializer):
    """What a simulated contact sends (instances/sandbox_phone.py checks it; this documents it)."""

    access_token = StringField(
        required=False, allow_blank=True, help_text="Or use the query string or a header."
    )
    # "from" is a Python keyword: the field is added under its real name below.
    kind = serializers.CharField(required=False, help_text=" | ".join(sandbox_phone.KINDS) + " (text)")
    push_name = serializers.CharField(required=False, help_text="The name the contact set on their phone")
    text = serializers.CharField(required=False, help_text="text and edit: the text; media: the caption")
    caption = serializers.CharField(required=False)
    media = serializers.CharField(
        required=False, help_text=f"The media's bytes in base64, at most {sandbox_phone.MEDIA_MAX_BYTES}"
    )
    filename = serializers.CharField(required=False)
    mimetype = serializers.CharField(required=False)
    size = serializers.IntegerField(
        required=False, help_text="Media without bytes: this many bytes of filler"
    )
    latitude = serializers.FloatField(required=False)
    longitude = serializers.FloatField(required=False)
    name = serializers.CharField(required=False, help_text="A location's name")
    address = serializers.CharField(required=False)
    vcard = serializers.CharField(required=False)
    contact_name = serializers.CharField(required=False)
    contact_phone = serializers.CharField(required=False)
    question = serializers.CharField(required=False)
    options = serializers.ListField(child=serializers.CharField(), required=False)
    selectable_count = serializers.IntegerField(required=False)
    emoji = serializers.CharField(required=False, help_text="reaction: '' takes the contact's reaction back")
    target_message_id = serializers.CharField(required=False, help_text="reaction, edit, revoke")
    quoted_message_id = serializers.CharField(required=False)
    group = serializers.CharField(required=False, help_text="Send it in this group (a …@g.us JID)")
    lid = serializers.BooleanField(required=False, help_text="The contact's number is hidden (@lid)")

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="The contact's phone number, digits")
        return fields
