"""What the sandbox's simulated phone is told to change (instances/sandbox_phone.py checks it;
these document it)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from instances import sandbox_phone
from kernel.fields import StringField


def _phones(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=f"{help_text}: phone numbers (a list, or one string separated by commas)",
    )


class SandboxGroupUpdateSerializer(serializers.Serializer):
    access_token = StringField(
        required=False, allow_blank=True, help_text="Or use the query string or a header."
    )
    group = serializers.CharField(help_text="The group (a …@g.us JID)")
    by = serializers.CharField(required=False, help_text="The contact who changes it: a phone number")
    name = serializers.CharField(
        required=False, help_text=f"A new name, at most {sandbox_phone.GROUP_NAME_LIMIT} characters"
    )
    description = serializers.CharField(
        required=False, allow_blank=True, help_text='A new description ("" removes it)'
    )
    announce = serializers.BooleanField(required=False, help_text="Only admins send messages")
    locked = serializers.BooleanField(required=False, help_text="Only admins edit the group's info")
    add = _phones("Participants added")
    remove = _phones("Participants removed (the account's own number: it is removed from the group)")
    promote = _phones("Participants made admins")
    demote = _phones("Admins made participants")


class SandboxContactUpdateSerializer(serializers.Serializer):
    access_token = StringField(
        required=False, allow_blank=True, help_text="Or use the query string or a header."
    )
    lid = serializers.BooleanField(required=False, help_text="The contact's number is hidden (@lid)")
    picture = serializers.ChoiceField(
        choices=sandbox_phone.PICTURE_CHANGES,
        required=False,
        help_text="The contact set a new profile picture (changed, the default) or removed it",
    )

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # "from" is a Python keyword: added under its real name here.
        fields["from"] = serializers.CharField(help_text="The contact's phone number, digits")
        return fields


class SandboxNotifiedSerializer(serializers.Serializer):
    instance_id = serializers.CharField()
    notification_id = serializers.CharField(help_text="The id WhatsApp's notification carries")
    kind = serializers.ChoiceField(choices=sandbox_phone.NOTIFICATION_KINDS)
    connected = serializers.BooleanField(help_text="false: it waits until the instance connects")
