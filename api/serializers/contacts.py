"""Request and response shapes of the contact endpoints (GET /instances/<id>/contacts/…)."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.groups import PhoneListField
from operations.contacts import CHECK_BATCH


class NumberCheckQuerySerializer(serializers.Serializer):
    phones = PhoneListField(
        max_items=CHECK_BATCH,
        lid=False,
        help_text=f"Phone numbers, comma-separated or the key repeated (at most {CHECK_BATCH}).",
    )
    refresh = serializers.BooleanField(
        required=False, default=False, help_text="Ask the live session even for numbers checked recently"
    )


class NumberSerializer(serializers.Serializer):
    phone = serializers.CharField(help_text="Digits, as asked")
    on_whatsapp = serializers.BooleanField()
    jid = serializers.CharField(allow_null=True, help_text="Its WhatsApp id, when it has WhatsApp")
    checked_at = serializers.DateTimeField(help_text="When a live session said so")
    cached = serializers.BooleanField(
        help_text="Answered from the database (younger than WAZIPER_NUMBER_CHECK_CACHE_S)"
    )


class NumberCheckSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    numbers = NumberSerializer(many=True)


class PictureSerializer(serializers.Serializer):
    jid = serializers.CharField()
    url = serializers.CharField(allow_null=True, help_text="A short-lived WhatsApp URL of the picture")
    id = serializers.CharField(allow_null=True, help_text="The picture's id (changes when it changes)")
    reason = serializers.CharField(
        allow_null=True, help_text="Why there is no URL: not_set, or hidden (their privacy settings)"
    )
