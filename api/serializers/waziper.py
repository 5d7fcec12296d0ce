"""Parameters of Waziper's public API under /api/ (documentation: every one may come in the query
string, a form or a JSON body, and the views read them as Waziper's controller does)."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.groups import GroupSerializer, ParticipantSerializer


def _param(help_text: str) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, help_text=help_text)


class ApiTokenParams(serializers.Serializer):
    access_token = _param("Your access token (or an `Authorization: Bearer` header).")


class ApiInstanceParams(ApiTokenParams):
    instance_id = _param("The instance's id.")


class ApiQrParams(ApiInstanceParams):
    wait = _param("Seconds to wait for a QR code to appear (0–60, default 10).")


class ApiWebhookParams(ApiInstanceParams):
    webhook_url = _param("Where incoming messages and receipts are posted.")
    enable = _param("`true` saves it enabled; anything else saves it disabled (as Waziper does).")


class _ApiMessageParams(ApiInstanceParams):
    type = _param("Accepted and ignored, as Waziper does: text or media follows from media_url.")
    message = _param("The text, or a media message's caption.")
    media_url = _param("An http(s) URL of the file; its extension picks image, video, audio or document.")
    filename = _param("A document's file name.")
    wait = _param(
        "Seconds to wait for the message to be sent (0–60, default 0): sent in time, the answer is "
        "Waziper's, with WhatsApp's message key."
    )


class ApiSendParams(_ApiMessageParams):
    number = _param("The recipient's phone number (a leading +, spaces and dashes are ignored).")


class ApiSendGroupParams(_ApiMessageParams):
    group_id = _param("The group's JID, such as 84987694574-1618740914@g.us.")


class WaziperParticipantSerializer(ParticipantSerializer):
    """A participant in Waziper's shape (documentation only)."""

    admin = serializers.CharField(  # type: ignore[assignment]
        allow_null=True, help_text="superadmin, admin, or null (Waziper's meaning)"
    )
    is_admin = serializers.BooleanField(help_text="An admin (superadmins are admins too)")


class WaziperGroupSerializer(GroupSerializer):
    """A group in Waziper's shape (documentation only): its keys first, this project's after."""

    desc = serializers.CharField(allow_blank=True, help_text="The group's description")
    participants = WaziperParticipantSerializer(many=True)
