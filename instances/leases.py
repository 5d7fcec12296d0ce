"""Instance leases: which worker holds which instance's session, across any number of workers.

Claims are conditional UPDATEs on the values just read (like healthchecks' sendalerts), so two
workers racing for one instance cannot both win, on SQLite or PostgreSQL. A worker that dies
stops renewing; once its leases expire another worker takes the instances over.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Q

from instances.models import Instance


def acquire(worker_id: str, now: datetime, ttl_s: float, limit: int, held: Iterable[int]) -> list[Instance]:
    """Claim up to `limit` running instances nobody holds (or whose lease expired)."""
    if limit <= 0:
        return []
    candidates = list(
        Instance.objects.filter(desired_state=Instance.Desired.RUNNING)
        .filter(Q(worker_id="") | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .exclude(pk__in=list(held))
        .order_by("lease_expires_at", "pk")
        .only("pk", "worker_id", "lease_expires_at")[:limit]
    )
    won = []
    until = now + timedelta(seconds=ttl_s)
    for candidate in candidates:
        # desired_state again: a stop or logout that landed since the scan must win.
        claimed = Instance.objects.filter(
            pk=candidate.pk,
            worker_id=candidate.worker_id,
            lease_expires_at=candidate.lease_expires_at,
            desired_state=Instance.Desired.RUNNING,
        ).update(worker_id=worker_id, lease_expires_at=until)
        if claimed == 1:
            won.append(candidate.pk)
    return list(Instance.objects.filter(pk__in=won).order_by("pk"))


def renew(worker_id: str, held: Iterable[int], now: datetime, ttl_s: float) -> tuple[set[int], set[int]]:
    """Extend this worker's leases. Returns (kept, deleted): held instances that are no longer
    ours are in neither (another worker took them after our lease lapsed)."""
    held = set(held)
    if not held:
        return set(), set()
    Instance.objects.filter(pk__in=held, worker_id=worker_id).update(
        lease_expires_at=now + timedelta(seconds=ttl_s)
    )
    rows = dict(Instance.objects.filter(pk__in=held).values_list("pk", "worker_id"))
    kept = {pk for pk, owner in rows.items() if owner == worker_id}
    deleted = held - set(rows)
    return kept, deleted


def release(worker_id: str, instance_pks: Iterable[int]) -> int:
    """Give instances back (shutdown, or desired state stopped) so others need not wait the TTL."""
    return Instance.objects.filter(pk__in=list(instance_pks), worker_id=worker_id).update(
        worker_id="", lease_expires_at=None
    )


def stopped_among(worker_id: str) -> set[int]:
    """Instances this worker holds whose desired state is no longer `running`."""
    return set(
        Instance.objects.filter(worker_id=worker_id)
        .exclude(desired_state=Instance.Desired.RUNNING)
        .values_list("pk", flat=True)
    )
