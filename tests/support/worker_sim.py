"""Rows a worker would have written, to put an instance straight into a state: a QR code on
screen, a linked phone, a lease held by a worker that never answers, a finished command.

Tests of the worker's reaction to a request use the real one (stepped_worker.SteppedWorker).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from instances.models import Instance, InstanceCommand

QR_CODE = "2@sandbox-qr-code,abc123=,def456=,ghi789="


def show_qr(instance: Instance, code: str = QR_CODE, *, lifetime_s: float = 60) -> datetime:
    now = timezone.now()
    expires_at = now + timedelta(seconds=lifetime_s)
    Instance.objects.filter(pk=instance.pk).update(
        status=Instance.Status.QR_PENDING, last_qr=code, last_qr_at=now, qr_expires_at=expires_at
    )
    return expires_at


def link(instance: Instance, jid: str = "6281234567890@s.whatsapp.net") -> None:
    Instance.objects.filter(pk=instance.pk).update(
        status=Instance.Status.CONNECTED, jid=jid, last_qr="", qr_expires_at=None, connected_at=timezone.now()
    )


def hold(instance: Instance, worker_id: str = "w1", ttl_s: float = 30) -> None:
    """A live worker's lease on the instance."""
    Instance.objects.filter(pk=instance.pk).update(
        worker_id=worker_id, lease_expires_at=timezone.now() + timedelta(seconds=ttl_s)
    )


def finish_commands(instance: Instance, result: dict[str, Any]) -> int:
    return InstanceCommand.objects.filter(instance=instance, finished_at__isnull=True).update(
        taken_by="w1", taken_at=timezone.now(), finished_at=timezone.now(), result=result
    )


class FakeWait:
    """Stands in for kernel.waiting's clock and sleep: waiting takes no real time, and
    `on_sleep` (if set) plays the worker's part while the view waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep: Callable[[int], None] | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        if self.on_sleep is not None:
            self.on_sleep(self.sleeps)

    @property
    def waited(self) -> float:
        return self.now


def trip_breaker(instance: Instance, *, at: datetime | None = None, forced: bool = False) -> None:
    """Fail connects through breaker.service until the breaker opens, as the worker would."""
    from django.conf import settings

    from breaker import service as breaker_service

    at = at or timezone.now()
    if forced:
        breaker_service.record_failure(instance, "logged_out", "device removed", now=at)
        return
    for _ in range(settings.WAZIPER_BREAKER_THRESHOLD):
        breaker_service.record_failure(instance, "connect_failed", "dial refused", now=at)
