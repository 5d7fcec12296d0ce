from __future__ import annotations

from django.db import models


class InstanceEvent(models.Model):
    """Append-only outbox: every QR, status change and breaker transition, in commit order.

    Web processes tail it by `id` (docs/architecture.md, "The outbox"); a page that reconnects
    asks for `id > since`.
    Rows are written in the same transaction as the state they report, so a reader never sees
    an event for a change that rolled back.
    """

    class Kind(models.TextChoices):
        QR = "qr"
        STATUS = "status"
        BREAKER = "breaker"
        PAIR_CODE = "pair_code"
        MESSAGE = "message"  # an incoming message's text: no longer written, older rows keep it
        MESSAGE_RECEIVED = "message.received"
        MESSAGE_UPDATED = "message.updated"  # an edit, a revoke or a reaction
        MESSAGE_STATUS = "message.status"  # one of our sends moved: sent, delivered, read, failed …
        GROUP_UPDATED = "group.updated"  # a group's settings or participants, or the account joined
        CONTACT_UPDATED = "contact.updated"  # a contact's push name or picture

    id = models.BigAutoField(primary_key=True)
    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            # `since` replay for one instance's page.
            models.Index(fields=["instance", "id"], name="event_instance_id"),
            models.Index(fields=["created_at"], name="event_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.kind} {self.payload}"
