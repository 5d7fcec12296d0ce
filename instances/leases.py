"""Instance leases: which worker holds which instance's session, across any number of workers.

Claims are conditional UPDATEs on the values just read (like healthchecks' sendalerts), so two
workers racing for one instance cannot both win, on SQLite or PostgreSQL. A worker that dies
stops renewing; once its leases expire another worker takes the instances over.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Count, Q

from instances.models import Instance

# pk, owner_id, worker_id, lease_expires_at
Candidate = tuple[int, int, str, datetime | None]


def acquire(worker_id: str, now: datetime, ttl_s: float, limit: int, held: Iterable[int]) -> list[Instance]:
    """Claim up to `limit` running instances nobody holds (or whose lease expired).

    When there are more candidates than room, owners take turns: an owner's n-th candidate
    comes after every owner's (n-1)-th, counting the instances each owner already has leased
    (by any worker) as turns taken. So a tenant with a thousand instances cannot keep a tenant
    with one from ever being leased; within one owner, the oldest instance goes first.
    """
    if limit <= 0:
        return []
    candidates = list(
        Instance.objects.filter(desired_state=Instance.Desired.RUNNING)
        .filter(Q(worker_id="") | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .exclude(pk__in=list(held))
        .order_by("pk")
        .values_list("pk", "owner_id", "worker_id", "lease_expires_at")
    )
    if len(candidates) > limit:
        candidates = _take_turns(candidates, now)[:limit]
    won = []
    until = now + timedelta(seconds=ttl_s)
    for pk, _, holder, expires_at in candidates:
        # desired_state again: a stop or logout that landed since the scan must win.
        claimed = Instance.objects.filter(
            pk=pk, worker_id=holder, lease_expires_at=expires_at, desired_state=Instance.Desired.RUNNING
        ).update(worker_id=worker_id, lease_expires_at=until)
        if claimed == 1:
            won.append(pk)
    return list(Instance.objects.filter(pk__in=won).order_by("pk"))


def _take_turns(candidates: list[Candidate], now: datetime) -> list[Candidate]:
    """`candidates` (oldest first) in the order owners take turns (see acquire)."""
    taken = dict(
        Instance.objects.filter(lease_expires_at__gte=now)
        .exclude(worker_id="")
        .order_by()
        .values("owner_id")
        .annotate(n=Count("pk"))
        .values_list("owner_id", "n")
    )
    turns: list[tuple[int, int, Candidate]] = []
    for candidate in candidates:
        owner_id = candidate[1]
        taken[owner_id] = taken.get(owner_id, 0) + 1
        turns.append((taken[owner_id], candidate[0], candidate))
    turns.sort(key=lambda turn: turn[:2])
    return [candidate for _, _, candidate in turns]


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
