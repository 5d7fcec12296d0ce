"""What the API shows of a WhatsApp account."""

from __future__ import annotations

from rest_framework import serializers


class ProfileSerializer(serializers.Serializer):
    jid = serializers.CharField(help_text="The account's WhatsApp id, e.g. 6281234567890:12@s.whatsapp.net")
    name = serializers.CharField(allow_blank=True, help_text="Its push name")
    picture_url = serializers.CharField(
        allow_null=True,
        help_text="Its profile picture (a short-lived WhatsApp URL); null when it has none or WhatsApp "
        "did not say.",
    )
    about = serializers.CharField(
        allow_null=True, allow_blank=True, help_text="Its about text; null when WhatsApp did not say."
    )
