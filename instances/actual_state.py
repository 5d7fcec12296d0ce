"""The worker's writes to instance rows: actual state, each change with its outbox event.

The web side writes desired state (instances.service); only the worker writes these fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from instances.events import emit_event
from instances.models import Instance


class InstanceGone(Exception):
    """The instance's row no longer exists: it was deleted while a worker held it."""

    def __init__(self, instance_pk: int) -> None:
        super().__init__(f"instance {instance_pk} no longer exists")
        self.instance_pk = instance_pk


def write_state(
    instance_pk: int,
    now: datetime,
    *,
    status: str | None = None,
    previous_status: str | None = None,
    detail: str | None = None,
    **fields: Any,
) -> None:
    """Update the row; if `status` differs from `previous_status`, also append a status event.

    One transaction, so a browser never sees an event for a change that rolled back. Raises
    InstanceGone if the row was deleted (its event would only break the foreign key at commit).
    """
    values: dict[str, Any] = dict(fields)
    if status is not None:
        values["status"] = status
    if detail is not None:
        values["status_detail"] = detail[:500]
    values["updated_at"] = now
    with transaction.atomic():
        if not Instance.objects.filter(pk=instance_pk).update(**values):
            raise InstanceGone(instance_pk)
        if status is not None and status != previous_status:
            payload = {"status": status, "detail": (detail or "")[:500]}
            for key in ("jid", "push_name", "retry_attempts"):
                if key in fields:
                    payload[key] = fields[key]
            if fields.get("next_attempt_at") is not None:
                payload["next_attempt_at"] = fields["next_attempt_at"].isoformat()
            emit_event(instance_pk, "status", payload, now=now)


def store_qr(
    instance_pk: int, code: str, expires_at: datetime | None, now: datetime, previous_status: str
) -> None:
    """A new QR code: kept on the row (for /get_qrcode and page loads) and pushed as an event."""
    with transaction.atomic():
        write_state(
            instance_pk,
            now,
            status=Instance.Status.QR_PENDING,
            previous_status=previous_status,
            detail="scan the QR code with WhatsApp on the phone",
            last_qr=code,
            last_qr_at=now,
            qr_expires_at=expires_at,
        )
        emit_event(
            instance_pk,
            "qr",
            {"qr": code, "expires_at": expires_at.isoformat() if expires_at else None},
            now=now,
        )
