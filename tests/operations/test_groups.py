"""operations/groups.py: after a change, or a change whose answer never came, the cache does
not show the group as it was."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from directory import cache
from instances.models import Instance
from operations import groups
from operations.session_queries import SessionTimeout
from tests.support.worker import SteppedWorker, connected_sandbox
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db
STAFF = "120363000000000001@g.us"
CACHED = [{"id": STAFF, "name": "Staff", "size": 2, "participants": []}]


@pytest.fixture
def silent(owner: Any, worker: SteppedWorker, fake_wait: FakeWait) -> Instance:
    """A connected instance whose session never answers, with its groups in the cache."""
    instance = connected_sandbox(owner, worker, query="hang")
    worker.run_while_waiting(fake_wait)
    cache.store_groups(instance, CACHED, timezone.now())
    return instance


def test_a_participant_change_without_an_answer_drops_the_cached_group_and_list(silent: Instance) -> None:
    with pytest.raises(SessionTimeout):
        groups.change_participants(silent, STAFF, "add", ["628200000002"])
    assert cache.cached_group(silent, STAFF, timezone.now(), 300) is None
    assert cache.cached_groups(silent, timezone.now(), 300) is None


def test_a_create_without_an_answer_makes_the_list_read_again(silent: Instance) -> None:
    with pytest.raises(SessionTimeout):
        groups.create_group(silent, "Launch", [])
    assert cache.cached_groups(silent, timezone.now(), 300) is None


def test_a_leave_without_an_answer_makes_the_group_and_list_read_again(silent: Instance) -> None:
    with pytest.raises(SessionTimeout):
        groups.leave_group(silent, STAFF)
    assert cache.cached_group(silent, STAFF, timezone.now(), 300) is None
    assert cache.cached_groups(silent, timezone.now(), 300) is None


def test_reads_from_a_fresh_cache_do_not_need_the_session(silent: Instance) -> None:
    assert groups.list_groups(silent).data == CACHED
    assert groups.get_group(silent, STAFF).cached is True
