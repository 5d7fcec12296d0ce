from __future__ import annotations

from django.db import models


class SandboxPhone(models.Model):
    """The simulated phone's side of a sandbox instance, in the database so the API, commands
    and tests in other processes can drive it, and so it survives a worker restart."""

    instance = models.OneToOneField(
        "instances.Instance", on_delete=models.CASCADE, primary_key=True, related_name="sandbox_phone"
    )
    # Set by `sandbox_scan` / the dashboard / the API; consumed by the worker's sandbox session.
    scan_requested_at = models.DateTimeField(null=True, blank=True)
    linked_jid = models.CharField(max_length=128, blank=True)
    push_name = models.CharField(max_length=128, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sandbox phone of {self.instance_id}"


class SandboxReceived(models.Model):
    """What the simulated recipient's phone received. No uniqueness on purpose: a duplicate send
    must show up here as two rows, which is what the no-double-send tests look for."""

    instance = models.ForeignKey(
        "instances.Instance", on_delete=models.CASCADE, related_name="sandbox_received"
    )
    wa_message_id = models.CharField(max_length=64)
    chat_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=16)
    text = models.TextField(blank=True)
    media_url = models.CharField(max_length=2000, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    media_bytes = models.PositiveIntegerField(default=0)
    ref = models.CharField(max_length=64, blank=True, help_text="The gateway's message id")
    # The kind's own fields as the phone saw them (a location's coordinates, a poll's options, the
    # message a reaction, edit or delete acted on, a reply's quoted id, mentions, typing time),
    # and what later messages did to this one (`reaction`).
    fields = models.JSONField(default=dict, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True, help_text="Changed by a later edit")
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="Deleted for everyone")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name = "sandbox received message"
        indexes = [models.Index(fields=["instance", "id"], name="sandbox_received_inst")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.chat_id} ({self.wa_message_id})"


class SandboxIncoming(models.Model):
    """A message one of the simulated phone's contacts sends to the sandbox instance, or a change
    it makes to a group or to its profile (`message.kind` group_update, contact_update). The API
    and `sandbox_message` (`sandbox_group_update`, `sandbox_contact_update`) write it; the
    worker's sandbox session delivers it as an `incoming` (`group_changed`, `contact_changed`)
    event, exactly as neonize would report one, while the instance is connected (WhatsApp keeps
    messages and notifications for an account whose device is offline, and so does this)."""

    instance = models.ForeignKey(
        "instances.Instance", on_delete=models.CASCADE, related_name="sandbox_incoming"
    )
    wa_message_id = models.CharField(max_length=64)
    message = models.JSONField(help_text="What the contact sends (instances/sandbox_phone.py)")
    media = models.BinaryField(blank=True, default=b"", help_text="The media's bytes, for downloads")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "sandbox incoming message"
        constraints = [
            models.UniqueConstraint(fields=["instance", "wa_message_id"], name="sandbox_incoming_wa_id"),
        ]
        indexes = [models.Index(fields=["delivered_at", "instance", "id"], name="sandbox_incoming_due")]

    def __str__(self) -> str:
        source = self.message.get("from") or self.message.get("group") or "?"
        return f"{self.message.get('kind', '?')} from {source} ({self.wa_message_id})"
