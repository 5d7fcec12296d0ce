"""Webhook endpoints and their deliveries. Only `webhooks` functions change these rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class WebhookEndpoint(models.Model):
    """Where an owner wants events posted: for one instance, or (instance empty) all of theirs."""

    class Format(models.TextChoices):
        STANDARD = "standard", "standard (Standard Webhooks JSON)"
        WAZIPER = "waziper", "waziper (the Waziper server's body, Baileys shapes)"

    class Breaker(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"
        HALF_OPEN = "half_open", "half-open (one probe)"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    instance = models.ForeignKey(
        "instances.Instance",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="webhook_endpoints",
        help_text="Empty: every instance of the owner's, present and future",
    )
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="Event types to post; empty: all")
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.STANDARD)
    # Kept as they are, not hashed: every delivery is signed with them. Shown once, when made.
    secret = models.CharField(max_length=128)
    previous_secret = models.CharField(max_length=128, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)

    # The endpoint's own circuit breaker (breaker.policy's rules, webhooks.policy's config).
    breaker_state = models.CharField(max_length=16, choices=Breaker.choices, default=Breaker.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    trips = models.PositiveIntegerField(default=0, help_text="Times opened since the last stable close")
    opened_at = models.DateTimeField(null=True, blank=True)
    open_until = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    probe_owner = models.CharField(max_length=64, blank=True)
    probe_lease_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [
            # The fan-out's one query per event: this instance's endpoints, or its owner's
            # all-instance ones.
            models.Index(fields=["instance", "enabled"], name="webhook_endpoint_instance"),
            models.Index(fields=["owner", "instance", "enabled"], name="webhook_endpoint_owner"),
        ]

    def __str__(self) -> str:
        return f"webhook {self.pk} → {self.url[:80]}"


def webhook_id(event_id: int | None, delivery_pk: int) -> str:
    """The `webhook-id` header of a delivery: its event's, the same on every attempt (and for
    every endpoint), so receivers can de-duplicate; a test event has its delivery's."""
    return f"evt_{event_id}" if event_id is not None else f"test_{delivery_pk}"


class WebhookDelivery(models.Model):
    """One event for one endpoint, until it is delivered or given up on (and after: replayable).

    `next_attempt_at` is when a deliverer may take it: the retry time while pending or failed,
    the lease's end while delivering (a deliverer that dies leaves it due again), empty once
    delivered or dead. So "what is due" is one index range per endpoint.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERING = "delivering"
        DELIVERED = "delivered"
        FAILED = "failed", "failed (a retry is scheduled)"
        DEAD = "dead", "dead (retries exhausted; replayable)"

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The outbox event. No foreign key constraint: the outbox is pruned on its own schedule, and
    # a delivery outlives its event as a record (a pending one then cannot be sent; see deliver).
    event = models.ForeignKey(
        "instances.InstanceEvent",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    event_type = models.CharField(max_length=40)
    # Only for events that are not in the outbox (webhook.test): what to post.
    payload = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_response_excerpt = models.CharField(max_length=1000, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The claim: an endpoint's due deliveries, oldest due first.
            models.Index(fields=["endpoint", "next_attempt_at", "id"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "status", "id"], name="webhook_delivery_status"),
            models.Index(fields=["lease_owner"], name="webhook_delivery_lease"),
            models.Index(fields=["created_at"], name="webhook_delivery_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event"], condition=Q(event__isnull=False), name="webhook_delivery_once"
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.event_type}, {self.status})"

    @property
    def webhook_id(self) -> str:
        return webhook_id(self.event_id, self.pk)


class Deliverer(models.Model):
    """A `deliver_webhooks` process: its heartbeat (progress, for `serve` and /health)."""

    deliverer_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-heartbeat_at"]

    def __str__(self) -> str:
        return f"{self.deliverer_id} ({self.hostname}:{self.pid})"
