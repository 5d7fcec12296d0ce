from __future__ import annotations

import os
import re
import secrets
from typing import Any, Literal

from django.conf import settings
from django.db import models
from django.db.models import Q, QuerySet

INSTANCE_ID_LENGTH = 13
INSTANCE_ID_RE = re.compile(r"^[0-9A-F]{13}$")


def new_instance_id() -> str:
    """13 upper-case hex characters, the shape Waziper's PHP front ends expect."""
    return secrets.token_hex(7).upper()[:INSTANCE_ID_LENGTH]


def is_instance_id(value: object) -> bool:
    return isinstance(value, str) and bool(INSTANCE_ID_RE.match(value))


# What a caller wants to do with an instance; each is a Django model permission on Instance.
Action = Literal["view", "change", "delete"]
ACTIONS: tuple[Action, ...] = ("view", "change", "delete")


def may_act_on_all(user: Any, action: Action) -> bool:
    """Whether `user` may `action` every tenant's instances, not only their own.

    Django's own model permissions decide (`instances.<action>_instance`, from the user or a
    group; an active superuser has them all). As in the admin, `change` includes `view`. Being
    staff grants nothing by itself: it only opens the admin's door.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if user.has_perm(f"instances.{action}_instance"):
        return True
    return action == "view" and user.has_perm("instances.change_instance")


class InstanceQuerySet(QuerySet["Instance"]):
    def visible_to(self, user: Any, *, action: Action) -> InstanceQuerySet:
        """The instances `user` may `action`: their own, or every one with the model permission
        for `action` (superusers: all). The one rule behind the API, the websocket, live.json,
        the dashboard and the admin (docs in instances/visibility.py)."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if may_act_on_all(user, action):
            return self
        return self.filter(owner=user)


class Instance(models.Model):
    class Transport(models.TextChoices):
        NEONIZE = "neonize", "neonize (real WhatsApp)"
        SANDBOX = "sandbox", "sandbox (simulated phone)"

    class Desired(models.TextChoices):
        RUNNING = "running"
        STOPPED = "stopped"

    class Status(models.TextChoices):
        STOPPED = "stopped"
        STARTING = "starting"
        QR_PENDING = "qr_pending", "waiting for QR scan"
        CONNECTING = "connecting"
        CONNECTED = "connected"
        DISCONNECTED = "disconnected", "disconnected (retry scheduled)"
        BREAKER_OPEN = "breaker_open", "circuit breaker open"
        QR_EXPIRED = "qr_expired", "QR expired (request a new one)"
        LOGGED_OUT = "logged_out", "logged out (scan a new QR)"

    instance_id = models.CharField(
        max_length=INSTANCE_ID_LENGTH, unique=True, default=new_instance_id, editable=False
    )
    name = models.CharField(max_length=100, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="instances")
    transport = models.CharField(max_length=16, choices=Transport.choices)
    proxy_url = models.CharField(max_length=500, blank=True)
    sandbox = models.JSONField(default=dict, blank=True, help_text="Simulated phone behaviour (sandbox only)")

    desired_state = models.CharField(max_length=16, choices=Desired.choices, default=Desired.STOPPED)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STOPPED)
    status_detail = models.CharField(max_length=500, blank=True)
    jid = models.CharField(max_length=128, blank=True)
    push_name = models.CharField(max_length=128, blank=True)
    last_qr = models.TextField(blank=True)
    last_qr_at = models.DateTimeField(null=True, blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    retry_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    # Per-instance overrides of the anti-ban send spacing (null: the WAZIPER_SEND_DELAY_* settings).
    send_delay_min = models.FloatField(null=True, blank=True)
    send_delay_max = models.FloatField(null=True, blank=True)
    # Seconds of "typing…" before each message (a random time in [min, max]; null: none), unless
    # a message asks for its own `typing_s`.
    typing_min_s = models.FloatField(null=True, blank=True, help_text="0 to 10 seconds; empty: no typing")
    typing_max_s = models.FloatField(null=True, blank=True, help_text="0 to 10 seconds; empty: the minimum")

    # Lease: which worker holds this instance's session, and until when unless renewed.
    worker_id = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = InstanceQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The worker's lease scan: running instances with no live lease.
            models.Index(fields=["desired_state", "lease_expires_at"], name="instance_lease_scan"),
            models.Index(fields=["worker_id"], name="instance_worker"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(send_delay_min__isnull=True) | Q(send_delay_min__gte=0),
                name="instance_delay_min_ge_0",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} ({self.name})" if self.name else self.instance_id

    def allows(self, user: Any, action: Action) -> bool:
        """`visible_to` for this one instance, without a query (the owner is compared by id)."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return False
        return self.owner_id == user.pk or may_act_on_all(user, action)

    @property
    def is_sandbox(self) -> bool:
        return self.transport == self.Transport.SANDBOX

    def session_dir(self) -> str:
        """Where this instance's WhatsApp session store lives: sessions/<instance_id>/."""
        return os.path.join(settings.WAZIPER_SESSIONS_DIR, self.instance_id)
