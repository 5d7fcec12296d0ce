"""The outgoing message queue. Only `queueing` functions change these rows; nothing deletes them."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class QueuedMessage(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text"
        IMAGE = "image"
        DOCUMENT = "document"
        AUDIO = "audio"
        VIDEO = "video"
        LOCATION = "location"
        CONTACT = "contact"
        POLL = "poll"
        STICKER = "sticker"
        # Acts on an earlier message (payload["target"]): they carry no content of their own.
        REACTION = "reaction"
        EDIT = "edit"
        DELETE = "delete"

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        SENT = "sent"
        DELIVERED = "delivered"
        READ = "read"
        FAILED = "failed"
        CANCELLED = "cancelled"
        # Claimed by a worker that died mid-send: it may or may not have reached WhatsApp.
        UNCERTAIN = "uncertain"

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="messages")
    chat_id = models.CharField(max_length=128, help_text="Phone number in digits or a full JID")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(blank=True, help_text="Message text, or the caption of a media message")
    media_url = models.CharField(max_length=2000, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    # What a kind needs beyond text and media (queueing/validation.py checks it per kind): a
    # location's coordinates, a contact's vCard, a poll's options, the message a reaction, edit
    # or delete acts on (`target`) and the message a reply quotes (`quoted`), as resolved when
    # it was queued.
    payload = models.JSONField(default=dict, blank=True)
    quoted_message_id = models.CharField(
        max_length=128, blank=True, help_text="The message this one replies to, as the client named it"
    )
    mentions = models.JSONField(default=list, blank=True, help_text="JIDs mentioned (contextInfo)")
    typing_s = models.FloatField(
        null=True, blank=True, help_text="Seconds of 'typing…' before the send (null: the instance's default)"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    priority = models.SmallIntegerField(default=0, help_text="Higher is sent first")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    not_before = models.DateTimeField(help_text="Not sent before this time (retry backoff, scheduling)")
    # NULL, not '', for "no key": the per-instance uniqueness constraint skips NULLs.
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    wa_message_id = models.CharField(max_length=128, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, help_text="Worker that claimed it for sending")
    # Fingerprint of what an Idempotency-Key request asked for: a key reused for a different
    # message is a client bug we answer with 409 rather than silently returning the first one.
    request_hash = models.CharField(max_length=64, blank=True)
    bulk_id = models.UUIDField(null=True, blank=True, help_text="The /send_bulk request it came from")

    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When the worker handed it to the session. Claimed but not handed off (media still
    # downloading) means it cannot have reached WhatsApp, so it may safely go back to the queue.
    handed_off_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    uncertain_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The claim: an instance's queued rows in the order they go out (priority, then the
            # earliest due). Walked in index order, so taking the next message or asking "is
            # anything due?" stops at the first due row instead of sorting the backlog.
            models.Index(fields=["instance", "status", "-priority", "not_before", "id"], name="queue_claim"),
            # The last hand-off per instance: send spacing survives a worker restart.
            models.Index(fields=["instance", "handed_off_at"], name="queue_handoff"),
            models.Index(fields=["bulk_id"], name="queue_bulk"),
            # Receipts arrive with WhatsApp's id.
            models.Index(fields=["instance", "wa_message_id"], name="queue_wa_id"),
            models.Index(fields=["status"], name="queue_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="queue_idempotency_per_instance",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} → {self.chat_id} ({self.status})"
