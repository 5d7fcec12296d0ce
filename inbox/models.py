"""What the instances' sessions received. Only `inbox.service` writes these rows."""

from __future__ import annotations

from django.db import models

# The API's id of a received message: this prefix and the row's pk. Queued (sent) messages are
# known by a UUID, which never starts like this, so one /messages/<id> path serves both.
ID_PREFIX = "in_"


class InboundMessage(models.Model):
    """One message a session received, stored once per (instance, WhatsApp message id).

    Edits, revokes and reactions are rows too (kinds `edit`, `revoke`, `reaction`, with
    `target_message_id`), and each also changes the message it refers to: an edit rewrites its
    text and sets `edited_at`, a revoke sets `revoked_at`, a reaction is listed in `reactions`.
    Keeping them as rows makes a duplicate delivery of the edit itself recognisable, and keeps an
    update whose target is unknown (older than the retention, or never received).
    """

    class Kind(models.TextChoices):
        TEXT = "text"
        IMAGE = "image"
        VIDEO = "video"
        AUDIO = "audio"
        DOCUMENT = "document"
        STICKER = "sticker"
        LOCATION = "location"
        CONTACT = "contact"
        POLL = "poll"
        REACTION = "reaction"
        EDIT = "edit"
        REVOKE = "revoke"
        OTHER = "other"

    instance = models.ForeignKey(
        "instances.Instance", on_delete=models.CASCADE, related_name="inbound_messages"
    )
    wa_message_id = models.CharField(max_length=128)
    chat = models.CharField(max_length=128, help_text="The chat's JID (a person, a group, …)")
    sender = models.CharField(max_length=128, blank=True, help_text="The sender's JID (may be a @lid)")
    sender_phone = models.CharField(
        max_length=32, blank=True, help_text="The sender's number in digits, where WhatsApp tells it"
    )
    from_me = models.BooleanField(default=False, help_text="Sent by the linked account (another device)")
    is_group = models.BooleanField(default=False)
    push_name = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    text = models.TextField(blank=True, help_text="The text, a caption, or a reaction's emoji")
    quoted_message_id = models.CharField(max_length=128, blank=True)
    target_message_id = models.CharField(
        max_length=128, blank=True, help_text="Edits, revokes and reactions: the message they change"
    )
    media_mimetype = models.CharField(max_length=255, blank=True)
    media_size = models.BigIntegerField(null=True, blank=True)
    media_filename = models.CharField(max_length=255, blank=True)
    media_sha256 = models.CharField(max_length=64, blank=True, help_text="Hex")
    # What the transport needs to fetch the media again (direct path, keys, hashes): opaque here.
    media_download = models.JSONField(default=dict, blank=True)
    details = models.JSONField(
        default=dict, blank=True, help_text="Per kind: a location, contacts, a poll's question and options"
    )
    reactions = models.JSONField(default=list, blank=True, help_text="[{sender, emoji, at}], one per sender")
    raw = models.JSONField(default=dict, blank=True, help_text="The WhatsApp message, size-capped")
    sent_at = models.DateTimeField(help_text="The time WhatsApp gives")
    received_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "received message"
        constraints = [
            models.UniqueConstraint(fields=["instance", "wa_message_id"], name="inbox_unique_wa_id"),
        ]
        indexes = [
            # GET /messages: newest first, per instance or over the caller's instances.
            models.Index(fields=["instance", "received_at", "id"], name="inbox_instance_time"),
            models.Index(fields=["received_at"], name="inbox_received"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} from {self.sender or self.chat} ({self.wa_message_id})"

    @property
    def api_id(self) -> str:
        return f"{ID_PREFIX}{self.pk}"


def pk_from_api_id(value: str) -> int | None:
    """`in_42` → 42; None for anything else (a UUID of a queued message, garbage)."""
    if not value.startswith(ID_PREFIX):
        return None
    digits = value[len(ID_PREFIX) :]
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)
