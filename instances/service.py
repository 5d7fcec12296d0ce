"""Functions that change instances from the web side (API, admin, commands).

The web side writes desired state and commands; the worker reconciles actual state
(instances/actual_state.py). Verbs that also touch the breaker live in operations/control.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from instances import commands, sandbox_phone
from instances.events import emit_event
from instances.housekeeping import remove_session_store
from instances.models import Instance, InstanceCommand, SandboxPhone
from instances.validation import (
    validate_instance_id,
    validate_instance_name,
    validate_proxy_url,
    validate_sandbox_behaviour,
)


class InstanceLimitReached(Exception):
    """The owner already has as many instances as WAZIPER_MAX_INSTANCES_PER_OWNER allows."""

    def __init__(self, username: str, limit: int) -> None:
        super().__init__(
            f"Instance limit reached: {username} already has {limit} instance(s), the most one owner "
            f"may have (WAZIPER_MAX_INSTANCES_PER_OWNER={limit}). Delete one or ask an operator."
        )
        self.limit = limit


logger = logging.getLogger("waziper.instances")


class InstanceIdTaken(Exception):
    """The chosen instance id belongs to an instance already (any owner's: ids are unique)."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"Instance id {instance_id} is taken; choose another or leave it out.")
        self.instance_id = instance_id


def instance_limit(owner: Any) -> int | None:
    """How many instances `owner` may have; None: no limit (superusers, or the setting is 0)."""
    limit = settings.WAZIPER_MAX_INSTANCES_PER_OWNER
    if not limit or owner.is_superuser:
        return None
    return int(limit)


def check_instance_limit(owner: Any) -> None:
    """Raise InstanceLimitReached if `owner` may not have one more instance.

    Inside create_instance's transaction this is the real check; elsewhere (a form) it is advice
    that a concurrent create may overtake.
    """
    limit = instance_limit(owner)
    if limit is not None and Instance.objects.filter(owner=owner).count() >= limit:
        raise InstanceLimitReached(owner.get_username(), limit)


@transaction.atomic
def create_instance(
    owner: Any,
    *,
    name: str = "",
    transport: str | None = None,
    proxy_url: str = "",
    sandbox: dict[str, Any] | None = None,
    instance_id: str | None = None,
) -> Instance:
    """Validate and create an instance (stopped until someone asks for its QR or state), with
    `instance_id` if one is chosen (an id a Waziper deployment already uses), else a new one.

    Raises ValidationError for bad fields, InstanceLimitReached when the owner has
    WAZIPER_MAX_INSTANCES_PER_OWNER instances already, InstanceIdTaken for an id in use.
    """
    transport = transport or settings.WAZIPER_DEFAULT_TRANSPORT
    if transport not in Instance.Transport.values:
        raise ValidationError({"transport": f"Unknown transport {transport!r}; use neonize or sandbox."})
    fields: dict[str, Any] = {}
    checks: tuple[tuple[str, Callable[[Any], Any], Any], ...] = (
        *((("instance_id", validate_instance_id, instance_id),) if instance_id is not None else ()),
        ("name", validate_instance_name, name),
        ("proxy_url", validate_proxy_url, proxy_url),
        ("sandbox", validate_sandbox_behaviour, sandbox),
    )
    for field, check, raw in checks:
        try:
            fields[field] = check(raw)
        except ValidationError as exc:
            raise ValidationError({field: exc.messages}) from None
    if fields["sandbox"] and transport != Instance.Transport.SANDBOX:
        raise ValidationError({"sandbox": "Sandbox behaviour applies only to sandbox instances."})
    if instance_limit(owner) is not None:
        # Count and insert under a lock, so two concurrent creates cannot both see room for one.
        # PostgreSQL: the owner's row, locked until commit, orders creates per owner. SQLite: the
        # IMMEDIATE transaction (settings) already holds the database's write lock from BEGIN.
        list(get_user_model().objects.select_for_update().filter(pk=owner.pk).values_list("pk"))
        check_instance_limit(owner)
    if "instance_id" in fields and Instance.objects.filter(instance_id=fields["instance_id"]).exists():
        raise InstanceIdTaken(fields["instance_id"])
    try:
        with transaction.atomic():
            instance = Instance.objects.create(owner=owner, transport=transport, **fields)
    except IntegrityError:
        if "instance_id" not in fields:
            raise
        raise InstanceIdTaken(fields["instance_id"]) from None  # created concurrently
    if instance.is_sandbox:
        SandboxPhone.objects.create(instance=instance)
    return instance


def unlinked_or_new_instance(owner: Any) -> tuple[Instance, bool]:
    """Waziper's public create_instance: the owner's oldest instance with no phone linked (so
    asking again before linking gives the same id), else a new one; and whether it is new.
    Raises InstanceLimitReached."""
    unlinked = (
        Instance.objects.filter(owner=owner, jid="")
        .exclude(status=Instance.Status.CONNECTED)
        .order_by("created_at", "id")
        .first()
    )
    if unlinked is not None:
        return unlinked, False
    return create_instance(owner), True


def create_on_first_use(owner: Any, instance_id: str) -> Instance:
    """The instance `instance_id`, created for `owner` because a client of theirs named it before
    anyone created it (WAZIPER_CREATE_INSTANCE_ON_FIRST_USE: Waziper's front ends make instance
    ids up themselves). Raises what create_instance raises; a concurrent first use by the same
    owner gets the instance the other request created."""
    try:
        instance = create_instance(owner, instance_id=instance_id)
    except InstanceIdTaken:
        mine = Instance.objects.filter(instance_id=instance_id.strip().upper(), owner=owner).first()
        if mine is None:
            raise
        return mine
    logger.info("instance %s created on first use by %s", instance.instance_id, owner.get_username())
    return instance


def _request(instance: Instance, desired: str) -> bool:
    changed = (
        Instance.objects.filter(pk=instance.pk)
        .exclude(desired_state=desired)
        .update(desired_state=desired, updated_at=timezone.now())
    )
    if changed:
        instance.desired_state = desired
    return bool(changed)


def request_running(instance: Instance) -> bool:
    """Ask the worker to hold a session for `instance`. Return True if that changed anything."""
    return _request(instance, Instance.Desired.RUNNING)


def request_stopped(instance: Instance) -> bool:
    """Ask the holding worker to close the session. Return True if that changed anything."""
    return _request(instance, Instance.Desired.STOPPED)


def is_held_by_live_worker(instance: Instance, now: datetime | None = None) -> bool:
    """Does a worker hold a live lease on `instance` (so a command will be taken)?"""
    now = now or timezone.now()
    return Instance.objects.filter(pk=instance.pk, lease_expires_at__gt=now).exclude(worker_id="").exists()


def request_sandbox_scan(instance: Instance, now: datetime | None = None) -> None:
    """The simulated phone scans the QR it is shown (the worker's sandbox session consumes it)."""
    if not instance.is_sandbox:
        raise ValidationError({"instance_id": "Only sandbox instances have a simulated phone."})
    SandboxPhone.objects.update_or_create(
        instance=instance, defaults={"scan_requested_at": now or timezone.now()}
    )


# --- what the API's session endpoints ask for ---------------------------------------------------

# Statuses that wait for a person: polling GET /instance must not restart them, or an
# integration that polls would keep generating QR codes nobody scans. GET /get_qrcode does.
PARKED_STATUSES = (Instance.Status.QR_EXPIRED, Instance.Status.LOGGED_OUT)


def ensure_running(instance: Instance) -> bool:
    """GET /instance: start the session unless it is parked until the next QR request.

    `instance` must be freshly read: integrations poll /instance, and skipping the UPDATE when
    the row already says running keeps that poll a read (SQLite serializes every write).
    """
    if instance.status in PARKED_STATUSES or instance.desired_state == Instance.Desired.RUNNING:
        return False
    return request_running(instance)


@dataclass(frozen=True)
class ShownQr:
    code: str
    expires_at: datetime | None


def shown_qr(instance: Instance, now: datetime) -> ShownQr | None:
    """The QR code the session shows right now, if any (an expired one does not count)."""
    if instance.status != Instance.Status.QR_PENDING or not instance.last_qr:
        return None
    if instance.qr_expires_at is not None and instance.qr_expires_at <= now:
        return None
    return ShownQr(instance.last_qr, instance.qr_expires_at)


def nudge_reconnect(instance: Instance, now: datetime) -> InstanceCommand | None:
    """Ask the worker holding a waiting instance to connect now instead of after its backoff or
    breaker cooldown (after a reset or a QR request). Nothing to do if no worker holds it: the
    next worker to lease it connects at once."""
    instance.refresh_from_db(fields=["desired_state", "status", "worker_id", "lease_expires_at"])
    if instance.desired_state != Instance.Desired.RUNNING or instance.status == Instance.Status.CONNECTED:
        return None
    if not is_held_by_live_worker(instance, now):
        return None
    pending = InstanceCommand.objects.filter(
        instance=instance, kind=InstanceCommand.Kind.RECONNECT, finished_at__isnull=True
    ).first()
    return pending or commands.send(instance, InstanceCommand.Kind.RECONNECT)


def logout(instance: Instance, *, now: datetime | None = None) -> InstanceCommand | None:
    """Log the WhatsApp session out and delete its session store.

    Returns None when it was done here, because no live worker holds the instance; otherwise the
    `logout` command the holding worker carries out (the web process never opens sockets).
    """
    now = now or timezone.now()
    with transaction.atomic():
        # The claim: matches only while no live worker holds the row. Setting desired_state to
        # stopped in the same UPDATE keeps any worker from leasing it afterwards.
        claimed = (
            Instance.objects.filter(pk=instance.pk)
            .filter(Q(worker_id="") | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
            .update(
                desired_state=Instance.Desired.STOPPED,
                status=Instance.Status.LOGGED_OUT,
                status_detail="logged out on request",
                jid="",
                push_name="",
                last_qr="",
                qr_expires_at=None,
                next_attempt_at=None,
                updated_at=now,
            )
        )
        if claimed:
            sandbox_phone.unlink(instance.pk)
            if instance.status != Instance.Status.LOGGED_OUT:
                emit_event(
                    instance,
                    "status",
                    {"status": Instance.Status.LOGGED_OUT, "detail": "logged out on request"},
                    now=now,
                )
    if not claimed:
        return commands.send(instance, InstanceCommand.Kind.LOGOUT)
    remove_session_store(instance.instance_id)
    instance.refresh_from_db()
    return None


def delete_instance(instance: Instance, *, now: datetime | None = None) -> None:
    """Delete the row and everything hanging off it. The worker holding the instance closes the
    session and removes the store when its lease renewal finds the row gone; if none holds it,
    the store goes here, so nothing stays on disk either way."""
    held = is_held_by_live_worker(instance, now)
    instance.delete()
    if not held:
        remove_session_store(instance.instance_id)
