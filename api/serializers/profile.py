"""What the API shows of a WhatsApp account."""

from __future__ import annotations

from rest_framework import serializers


class ProfileSerializer(serializers.Serializer):
    jid = serializers.CharField(help_text="The account's WhatsApp id, e.g. 6281234567890:12@s.whatsapp.net")
    name = serializers.CharField(allow_blank=True, help_text="Its push name")
