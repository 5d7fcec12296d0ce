"""operations/contacts.py: numbers the cache does not know are asked of the session in batches
of 50, all at once; repeats are asked once."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from directory import cache
from instances.models import InstanceCommand
from operations import contacts
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db


def test_many_numbers_are_asked_in_batches_of_fifty_on_one_tick(
    owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    phones = [f"6282000{i:05d}" for i in range(120)]
    instance = connected_sandbox(owner, worker, on_whatsapp=phones[::2])
    worker.run_while_waiting(fake_wait)
    checked = contacts.check_numbers(instance, phones)
    assert [c.number.on_whatsapp for c in checked] == [i % 2 == 0 for i in range(120)]
    batches = [c.payload["args"]["phones"] for c in InstanceCommand.objects.order_by("pk")]
    assert [len(b) for b in batches] == [50, 50, 20]
    assert fake_wait.sleeps == 1


def test_repeats_are_asked_once_and_answered_each_time(
    owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected_sandbox(owner, worker)
    worker.run_while_waiting(fake_wait)
    checked = contacts.check_numbers(instance, ["628200000002", "628200000003", "628200000002"])
    assert [c.number.phone for c in checked] == ["628200000002", "628200000003", "628200000002"]
    assert InstanceCommand.objects.get().payload["args"]["phones"] == ["628200000002", "628200000003"]


def test_numbers_the_cache_knows_are_not_asked(
    owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected_sandbox(owner, worker, on_whatsapp="none")
    worker.run_while_waiting(fake_wait)
    cache.store_numbers(
        instance, [{"phone": "628200000002", "on_whatsapp": True, "jid": "j"}], timezone.now()
    )
    checked = contacts.check_numbers(instance, ["628200000002", "628200000003"])
    assert [(c.number.on_whatsapp, c.cached) for c in checked] == [(True, True), (False, False)]
    assert InstanceCommand.objects.get().payload["args"]["phones"] == ["628200000003"]
