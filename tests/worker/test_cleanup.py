from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from breaker.models import FailureEvent
from directory import cache, changes
from instances.housekeeping import remove_session_store
from instances.models import Instance, InstanceCommand, InstanceEvent, WorkerProcess
from instances.service import create_instance
from tests.support.inbox import receive
from worker.cleanup import run_cleanup

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def beat(worker_id: str, at: datetime) -> WorkerProcess:
    return WorkerProcess.objects.create(
        worker_id=worker_id, hostname="h", pid=1, capacity=1, started_at=at, heartbeat_at=at
    )


def test_prunes_history_older_than_the_retention(instance: Instance, settings: Any) -> None:
    old = NOW - timedelta(days=settings.WAZIPER_FAILURE_RETENTION_DAYS + 1)
    FailureEvent.objects.create(instance=instance, kind="connect_failed", at=old)
    FailureEvent.objects.create(instance=instance, kind="connect_failed", at=NOW - timedelta(days=1))
    InstanceEvent.objects.create(instance=instance, kind="status", payload={}, created_at=old)
    counts = run_cleanup("me", NOW)
    assert counts["failures_pruned"] == 1
    assert counts["events_pruned"] == 1
    assert FailureEvent.objects.count() == 1


def test_marks_silent_workers_stopped_and_finishes_their_commands(instance: Instance, settings: Any) -> None:
    beat("gone", NOW - timedelta(seconds=3 * settings.WAZIPER_LEASE_TTL + 1))
    beat("alive", NOW)
    stuck = InstanceCommand.objects.create(
        instance=instance, kind="logout", created_at=NOW, taken_by="gone", taken_at=NOW
    )
    run_cleanup("me", NOW)
    assert WorkerProcess.objects.get(worker_id="gone").stopped_at == NOW
    assert WorkerProcess.objects.get(worker_id="alive").stopped_at is None
    stuck.refresh_from_db()
    assert stuck.finished_at == NOW
    assert "stopped" in stuck.result["error"]


def test_prunes_finished_commands_after_an_hour_and_keeps_pending_ones(instance: Instance) -> None:
    hour = timedelta(hours=1)

    def command(finished_at: datetime | None) -> InstanceCommand:
        return InstanceCommand.objects.create(
            instance=instance, kind="query", created_at=NOW - 2 * hour, finished_at=finished_at
        )

    old, recent, pending = command(NOW - hour - timedelta(seconds=1)), command(NOW - hour / 2), command(None)
    assert run_cleanup("me", NOW)["commands_pruned"] == 1
    assert set(InstanceCommand.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}
    assert not InstanceCommand.objects.filter(pk=old.pk).exists()


def test_clears_lapsed_leases(instance: Instance) -> None:
    Instance.objects.filter(pk=instance.pk).update(
        worker_id="gone", lease_expires_at=NOW - timedelta(seconds=1)
    )
    run_cleanup("me", NOW)
    instance.refresh_from_db()
    assert instance.worker_id == ""
    assert instance.lease_expires_at is None


def test_removes_stores_of_deleted_and_logged_out_instances_only(owner: Any, settings: Any) -> None:
    kept = create_instance(owner, transport="sandbox")
    logged_out = create_instance(owner, transport="sandbox")
    Instance.objects.filter(pk=logged_out.pk).update(status="logged_out")
    root = settings.WAZIPER_SESSIONS_DIR
    for name in (kept.instance_id, logged_out.instance_id, "0123456789ABC", "not-an-instance"):
        os.makedirs(os.path.join(root, name))
    assert run_cleanup("me", NOW)["session_stores_removed"] == 2
    assert sorted(os.listdir(root)) == sorted([kept.instance_id, "not-an-instance"])


def test_remove_session_store_refuses_anything_but_an_instance_id(settings: Any) -> None:
    os.makedirs(os.path.join(settings.WAZIPER_SESSIONS_DIR, "x"))
    assert remove_session_store("../x") is False
    assert remove_session_store("x") is False
    assert os.path.isdir(os.path.join(settings.WAZIPER_SESSIONS_DIR, "x"))


def test_prunes_received_messages_older_than_the_inbox_retention(instance: Instance, settings: Any) -> None:
    receive(instance, message_id="OLD", now=NOW - timedelta(days=settings.WAZIPER_INBOX_RETENTION_DAYS + 1))
    receive(instance, message_id="NEW", now=NOW - timedelta(days=1))
    assert run_cleanup("me", NOW)["inbox_pruned"] == 1


def test_prunes_session_answers_older_than_their_cache(instance: Instance, settings: Any) -> None:
    settings.WAZIPER_NUMBER_CHECK_CACHE_S = 60
    cache.store_numbers(
        instance, [{"phone": "628200000002", "on_whatsapp": True}], NOW - timedelta(minutes=2)
    )
    assert run_cleanup("me", NOW)["directory_pruned"] == 1


def test_prunes_contacts_not_heard_of_within_the_inbox_retention(instance: Instance, settings: Any) -> None:
    old = NOW - timedelta(days=settings.WAZIPER_INBOX_RETENTION_DAYS + 1)
    message = {"sender": "628200000002@s.whatsapp.net", "push_name": "Budi", "at": old.isoformat()}
    changes.push_name_seen(instance.pk, message, NOW)
    assert run_cleanup("me", NOW)["contacts_pruned"] == 1
