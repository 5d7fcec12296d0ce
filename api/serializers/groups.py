"""Request and response shapes of the group endpoints (GET/POST /instances/<id>/groups …), and
the phone-list field the contact and read endpoints share."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from kernel.fields import StringField
from queueing.validation import GROUP_JID_RE, LID_JID_RE, PHONE_RE, USER_JID_RE

PARTICIPANT_ACTIONS = ("add", "remove", "promote", "demote")
GROUP_NAME_LIMIT = 100  # WhatsApp's limit on a group's subject
PARTICIPANTS_PER_CHANGE = 50
PARTICIPANTS_AT_CREATE = 256
_LIST_SEPARATORS = re.compile(r"[,\n]")


def group_jid(value: str) -> str:
    """A group id as the path gives it: `120363…@g.us`, or its digits alone."""
    text = value.strip()
    if "@" not in text:
        text = f"{text}@g.us"
    match = GROUP_JID_RE.match(text)
    if match is None:
        raise serializers.ValidationError(
            "Must be a group id such as 120363025246125888@g.us (or its digits alone)."
        )
    return f"{match.group(1)}@g.us"


def participant_id(value: str, *, lid: bool = True) -> str:
    """A phone number (digits, an optional +), a user JID, or (with `lid`) a …@lid id."""
    text = value.strip()
    if match := PHONE_RE.match(text):
        return match.group(1)
    if match := USER_JID_RE.match(text):
        return f"{match.group(1)}@s.whatsapp.net"
    # A participant WhatsApp knows only by its LID (privacy-addressed groups) is named by that.
    if lid and (match := LID_JID_RE.match(text)):
        return f"{match.group(1)}@lid"
    raise ValueError(text)


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class SeparatedListField(serializers.Field):
    """Strings as a JSON list, or as one string separated by commas or new lines (forms, query
    strings; a repeated key is several such strings). Every bad item is named in the error."""

    what = "values"

    def __init__(self, *, max_items: int, min_items: int = 1, **kwargs: Any) -> None:
        self.max_items, self.min_items = max_items, min_items
        super().__init__(**kwargs)

    def item(self, value: str) -> str:
        """One item, normalized; ValueError if it is not one."""
        return value

    def get_value(self, dictionary: Any) -> Any:
        if hasattr(dictionary, "getlist") and self.field_name in dictionary:
            values = dictionary.getlist(self.field_name)
            return values if len(values) > 1 else values[0]
        return super().get_value(dictionary)

    def to_internal_value(self, data: Any) -> list[str]:
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(item, str) for item in items):
            raise serializers.ValidationError(f"Must be a list of {self.what} (strings).")
        values = [part.strip() for item in items for part in _LIST_SEPARATORS.split(item) if part.strip()]
        if len(values) > self.max_items:
            raise serializers.ValidationError(f"At most {self.max_items} per request (got {len(values)}).")
        if len(values) < self.min_items:
            raise serializers.ValidationError(f"Give at least {self.min_items}.")
        out, bad = [], []
        for value in values:
            try:
                out.append(self.item(value))
            except ValueError:
                bad.append(value)
        if bad:
            shown = ", ".join(repr(v[:40]) for v in bad[:10]) + (" …" if len(bad) > 10 else "")
            raise serializers.ValidationError(f"Not {self.what}: {shown}.")
        return out

    def to_representation(self, value: Any) -> Any:
        return value


class PhoneListField(SeparatedListField):
    """Phone numbers (digits, an optional +), user JIDs and, with `lid`, …@lid ids."""

    def __init__(self, *, lid: bool = True, **kwargs: Any) -> None:
        self.lid = lid
        self.what = "phone numbers of 8 to 15 digits (with an optional +)" + (" or JIDs" if lid else "")
        super().__init__(**kwargs)

    def item(self, value: str) -> str:
        return participant_id(value, lid=self.lid)


@extend_schema_field(OpenApiTypes.DATETIME)
class UnixTimeField(serializers.Field):
    """Unix seconds as the session gives them, shown as an ISO 8601 time (null when unknown)."""

    def to_representation(self, value: Any) -> str | None:
        if not value:
            return None
        return datetime.fromtimestamp(float(value), tz=UTC).isoformat().replace("+00:00", "Z")


# -- answers ----------------------------------------------------------------------------------------


class ParticipantSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The participant's WhatsApp id: …@s.whatsapp.net, or …@lid")
    phone = serializers.CharField(allow_null=True, help_text="Its phone number where WhatsApp says it")
    admin = serializers.BooleanField(help_text="An admin (superadmins are admins too)")
    superadmin = serializers.BooleanField(help_text="The group's creator")


class GroupSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="e.g. 120363025246125888@g.us")
    name = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)
    size = serializers.IntegerField(help_text="Number of participants")
    owner = serializers.CharField(allow_null=True, required=False)
    created_at = UnixTimeField(allow_null=True, required=False)
    announce = serializers.BooleanField(required=False, help_text="Only admins may send")
    locked = serializers.BooleanField(required=False, help_text="Only admins may edit the group's info")
    participants = ParticipantSerializer(many=True)


class _FreshnessSerializer(serializers.Serializer):
    fetched_at = serializers.DateTimeField(help_text="When the live session gave this answer")
    cached = serializers.BooleanField(
        help_text="Answered from the database (younger than WAZIPER_GROUPS_CACHE_S) rather than asked now"
    )


class GroupListSerializer(_FreshnessSerializer):
    count = serializers.IntegerField()
    groups = GroupSerializer(many=True)


class GroupDetailSerializer(_FreshnessSerializer):
    group = GroupSerializer()


class ParticipantOutcomeSerializer(serializers.Serializer):
    participant = serializers.CharField(help_text="As asked: phone digits, or the id's user part")
    id = serializers.CharField(
        allow_null=True, help_text="Its WhatsApp id; null when WhatsApp said nothing of it"
    )
    ok = serializers.BooleanField()
    code = serializers.IntegerField(allow_null=True, help_text="WhatsApp's refusal (403, 404, 408, 409 …)")
    reason = serializers.CharField(allow_null=True)


class CreatedGroupSerializer(GroupSerializer):
    not_added = ParticipantOutcomeSerializer(many=True, help_text="Participants WhatsApp would not add")


class ParticipantsChangedSerializer(serializers.Serializer):
    group = serializers.CharField()
    action = serializers.CharField()
    participants = ParticipantOutcomeSerializer(many=True)


class InviteLinkSerializer(serializers.Serializer):
    group = serializers.CharField()
    link = serializers.CharField(help_text="https://chat.whatsapp.com/…")
    reset = serializers.BooleanField(help_text="The previous link was revoked")


class LeftGroupSerializer(serializers.Serializer):
    group = serializers.CharField()
    left = serializers.BooleanField()


# -- requests ------------------------------------------------------------------------------------


class RefreshQuerySerializer(serializers.Serializer):
    refresh = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Ask the live session even if the database has a fresh answer",
    )


class InviteLinkQuerySerializer(serializers.Serializer):
    reset = serializers.BooleanField(
        required=False, default=False, help_text="Revoke the current link and make a new one (needs change)"
    )


class GroupCreateSerializer(serializers.Serializer):
    name = StringField(max_length=GROUP_NAME_LIMIT, help_text="The group's subject")
    participants = PhoneListField(
        max_items=PARTICIPANTS_AT_CREATE,
        min_items=0,
        required=False,
        default=list,
        help_text=f"Phone numbers to add (at most {PARTICIPANTS_AT_CREATE}); the account is the creator.",
    )

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("Must not be blank.")
        if any(ord(ch) < 32 for ch in value):
            raise serializers.ValidationError("Must not contain control characters.")
        return value


class ParticipantsChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=PARTICIPANT_ACTIONS)
    phones = PhoneListField(
        max_items=PARTICIPANTS_PER_CHANGE,
        help_text=f"Phone numbers, user JIDs or …@lid ids (at most {PARTICIPANTS_PER_CHANGE}).",
    )
