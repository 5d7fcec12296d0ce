"""The circuit breaker's tables. Only `breaker.service` changes them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BreakerState(models.Model):
    """One row per instance: the breaker's state machine, persisted so a restart changes nothing.

    Failures are not counted here but in FailureEvent rows since `counted_since`, so a reset
    keeps the history while clearing the count.
    """

    class State(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"
        HALF_OPEN = "half_open", "half-open (one probe)"
        FORCED_OPEN = "forced_open", "forced open (needs a person)"

    instance = models.OneToOneField(
        "instances.Instance", on_delete=models.CASCADE, primary_key=True, related_name="breaker"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.CLOSED)
    # Failures before this moment do not count (set by resets and by a successful close).
    counted_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    open_until = models.DateTimeField(null=True, blank=True)
    # The cooldown of the current/last open period before jitter; doubles on a failed probe.
    cooldown_s = models.FloatField(null=True, blank=True)
    trips = models.PositiveIntegerField(default=0, help_text="Times opened since the last stable close")
    closed_at = models.DateTimeField(null=True, blank=True)
    forced_reason = models.CharField(max_length=200, blank=True)
    probe_owner = models.CharField(max_length=64, blank=True)
    probe_lease_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_reset_at = models.DateTimeField(null=True, blank=True)

    # Per-instance overrides of the WAZIPER_BREAKER_* settings (null: use the setting).
    threshold = models.PositiveIntegerField(null=True, blank=True)
    window_s = models.FloatField(null=True, blank=True)
    base_cooldown_s = models.FloatField(null=True, blank=True)
    max_cooldown_s = models.FloatField(null=True, blank=True)

    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state"], name="breaker_state")]

    def __str__(self) -> str:
        return f"breaker of {self.instance_id}: {self.state}"


class FailureEvent(models.Model):
    """A failed connect attempt, an unexpected disconnect, a crashed host: the breaker's input."""

    class Kind(models.TextChoices):
        CONNECT_FAILED = "connect_failed"
        CONNECT_TIMEOUT = "connect_timeout"
        DISCONNECTED = "disconnected"
        HOST_CRASHED = "host_crashed"
        LIVE_CHECK = "live_check", "live check failed"
        SEND_FAILED = "send_failed", "send showed a dead socket"
        LOGGED_OUT = "logged_out"
        BANNED = "banned"
        STREAM_REPLACED = "stream_replaced"
        TRANSPORT_ERROR = "transport_error"

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="failures")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    detail = models.TextField(blank=True)
    at = models.DateTimeField()
    # False for events kept for the record that must not trip the breaker.
    counts = models.BooleanField(default=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # failures in window for one instance; recent failures for /health.
            models.Index(fields=["instance", "at"], name="failure_instance_at"),
            models.Index(fields=["at"], name="failure_at"),
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


class BreakerReset(models.Model):
    """Who closed a breaker by hand, when and why. Resets never delete failure history."""

    class Source(models.TextChoices):
        API = "api"
        ADMIN = "admin"
        COMMAND = "command"
        QR_REQUEST = "qr_request", "QR request"

    instance = models.ForeignKey(
        "instances.Instance", on_delete=models.CASCADE, related_name="breaker_resets"
    )
    at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.CharField(
        max_length=150, blank=True, help_text="Who, as text (kept if the user is deleted)"
    )
    reason = models.CharField(max_length=500, blank=True)
    previous_state = models.CharField(max_length=16)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["instance", "at"], name="reset_instance_at")]

    def __str__(self) -> str:
        return f"reset of {self.instance_id} by {self.actor or self.source} at {self.at:%Y-%m-%d %H:%M:%S}"
