"""Functions that change instances from the web side (API, admin, commands).

The web side only writes desired state; the worker reconciles actual state (DESIGN "Shape").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from instances.models import Instance, InstanceCommand, SandboxPhone
from instances.validation import validate_instance_name, validate_proxy_url, validate_sandbox_behaviour


@transaction.atomic
def create_instance(
    owner: Any,
    *,
    name: str = "",
    transport: str | None = None,
    proxy_url: str = "",
    sandbox: dict[str, Any] | None = None,
) -> Instance:
    """Validate and create an instance (stopped until someone asks for its QR or state)."""
    transport = transport or settings.WAZIPER_DEFAULT_TRANSPORT
    if transport not in Instance.Transport.values:
        raise ValidationError({"transport": f"Unknown transport {transport!r}; use neonize or sandbox."})
    fields: dict[str, Any] = {}
    for field, check, raw in (
        ("name", validate_instance_name, name),
        ("proxy_url", validate_proxy_url, proxy_url),
        ("sandbox", validate_sandbox_behaviour, sandbox),
    ):
        try:
            fields[field] = check(raw)
        except ValidationError as exc:
            raise ValidationError({field: exc.messages}) from None
    if fields["sandbox"] and transport != Instance.Transport.SANDBOX:
        raise ValidationError({"sandbox": "Sandbox behaviour applies only to sandbox instances."})
    instance = Instance.objects.create(owner=owner, transport=transport, **fields)
    if instance.is_sandbox:
        SandboxPhone.objects.create(instance=instance)
    return instance


def request_running(instance: Instance) -> bool:
    """Ask the worker to hold a session for `instance`. Return True if that changed anything."""
    changed = (
        Instance.objects.filter(pk=instance.pk)
        .exclude(desired_state=Instance.Desired.RUNNING)
        .update(desired_state=Instance.Desired.RUNNING, updated_at=timezone.now())
    )
    if changed:
        instance.desired_state = Instance.Desired.RUNNING
    return bool(changed)


def request_stopped(instance: Instance) -> bool:
    changed = (
        Instance.objects.filter(pk=instance.pk)
        .exclude(desired_state=Instance.Desired.STOPPED)
        .update(desired_state=Instance.Desired.STOPPED, updated_at=timezone.now())
    )
    if changed:
        instance.desired_state = Instance.Desired.STOPPED
    return bool(changed)


def send_command(instance: Instance, kind: str, payload: dict[str, Any] | None = None) -> InstanceCommand:
    """Queue a command for the worker holding `instance` (it takes it within one tick)."""
    return InstanceCommand.objects.create(
        instance=instance, kind=kind, payload=payload or {}, created_at=timezone.now()
    )


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
