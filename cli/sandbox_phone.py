"""What the sandbox commands share (sandbox_message, sandbox_group_update,
sandbox_contact_update): the simulated phone queues something for an instance
(instances/sandbox_phone.py), and the command says when it arrives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from instances import sandbox_phone
from instances.models import Instance, SandboxIncoming
from kernel.commands import WaziperCommand


@dataclass(frozen=True)
class Queued:
    instance: Instance
    sent: SandboxIncoming
    connected: bool

    @property
    def when(self) -> str:
        return "at the worker's next tick" if self.connected else "once the instance connects"


def queue_from_phone(instance_id: str, queue: Callable[[Instance], SandboxIncoming]) -> Queued:
    """`queue` run for the named instance; a refusal is a CommandError naming the fields."""
    instance = Instance.objects.filter(instance_id=instance_id.strip().upper()).first()
    if instance is None:
        raise CommandError(f"Unknown instance id: {instance_id}")
    try:
        sent = queue(instance)
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        raise CommandError(problems) from None
    except sandbox_phone.NotLinked as exc:
        raise CommandError(str(exc)) from None
    return Queued(instance, sent, instance.status == Instance.Status.CONNECTED)


def notify(command: WaziperCommand, instance_id: str, kind: str, data: dict[str, Any]) -> None:
    """A change of `kind` (group_update, contact_update) sent to the instance."""
    queued = queue_from_phone(
        instance_id, lambda instance: sandbox_phone.notify_instance(instance, kind, data)
    )
    command.report(
        f"🔔 {queued.instance.instance_id}: {kind} sent as {queued.sent.wa_message_id}; "
        f"it arrives {queued.when}",
        {
            "instance_id": queued.instance.instance_id,
            "notification_id": queued.sent.wa_message_id,
            "kind": kind,
            "connected": queued.connected,
        },
    )
