"""What `sandbox_group_update` and `sandbox_contact_update` share: queue the change for the
instance (instances/sandbox_phone.py) and say when it arrives."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from instances import sandbox_phone
from instances.models import Instance
from kernel.commands import WaziperCommand


def notify(command: WaziperCommand, instance_id: str, kind: str, data: dict[str, Any]) -> None:
    instance = Instance.objects.filter(instance_id=instance_id.strip().upper()).first()
    if instance is None:
        raise CommandError(f"Unknown instance id: {instance_id}")
    try:
        sent = sandbox_phone.notify_instance(instance, kind, data)
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        raise CommandError(problems) from None
    except sandbox_phone.NotLinked as exc:
        raise CommandError(str(exc)) from None
    connected = instance.status == Instance.Status.CONNECTED
    when = "at the worker's next tick" if connected else "once the instance connects"
    command.report(
        f"🔔 {instance.instance_id}: {kind} sent as {sent.wa_message_id}; it arrives {when}",
        {
            "instance_id": instance.instance_id,
            "notification_id": sent.wa_message_id,
            "kind": kind,
            "connected": connected,
        },
    )
