"""instances/commands.py: a command is taken once, answered once, and a cancel beats a late answer."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from instances import commands
from instances.models import Instance, InstanceCommand

pytestmark = [pytest.mark.django_db, pytest.mark.dbengines]


def test_a_command_is_taken_by_one_worker_only(instance: Instance) -> None:
    command = commands.send(instance, InstanceCommand.Kind.RECONNECT)
    now = timezone.now()
    assert commands.take(command, "w1", now) is True
    assert commands.take(command, "w2", now) is False
    assert InstanceCommand.objects.get(pk=command.pk).taken_by == "w1"


def test_pending_for_lists_only_untaken_unfinished_commands_of_the_given_instances(
    instance: Instance, owner: Any
) -> None:
    from instances.service import create_instance

    other = create_instance(owner, transport="sandbox")
    fresh = commands.send(instance, InstanceCommand.Kind.RECONNECT)
    taken = commands.send(instance, InstanceCommand.Kind.RECONNECT)
    commands.take(taken, "w1", timezone.now())
    commands.send(other, InstanceCommand.Kind.RECONNECT)
    assert [c.pk for c in commands.pending_for([instance.pk])] == [fresh.pk]


def test_the_first_answer_wins_and_a_later_one_is_ignored(instance: Instance) -> None:
    command = commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "profile"})
    now = timezone.now()
    assert commands.finish(command.pk, {"data": 1}, now) is True
    assert commands.finish(command.pk, {"data": 2}, now) is False
    assert commands.result_of(command.pk) == {"data": 1}


def test_a_cancelled_question_keeps_its_cancellation_when_the_answer_comes_late(instance: Instance) -> None:
    command = commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "profile"})
    now = timezone.now()
    assert commands.cancel(command.pk, "no answer in time", now) is True
    assert commands.finish(command.pk, {"data": "late"}, now + timedelta(seconds=1)) is False
    assert commands.result_of(command.pk) == {"error": "no answer in time", "code": "cancelled"}


def test_a_cancel_after_the_answer_changes_nothing(instance: Instance) -> None:
    command = commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "profile"})
    commands.finish(command.pk, {"data": "in time"}, timezone.now())
    assert commands.cancel(command.pk, "no answer in time", timezone.now()) is False
    assert commands.result_of(command.pk) == {"data": "in time"}


def test_a_read_answer_can_be_forgotten_so_a_downloads_bytes_do_not_stay(instance: Instance) -> None:
    command = commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "download_media"})
    commands.finish(command.pk, {"data": {"base64": "x" * 1000}}, timezone.now())
    commands.forget_result(command.pk)
    assert commands.result_of(command.pk) == {"forgotten": True}


def test_forgetting_an_unanswered_command_leaves_it_to_be_answered(instance: Instance) -> None:
    command = commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "download_media"})
    commands.forget_result(command.pk)
    assert commands.finish(command.pk, {"data": 1}, timezone.now()) is True


def test_the_newest_id_is_the_last_command_written(instance: Instance) -> None:
    assert commands.newest_id() == 0
    commands.send(instance, InstanceCommand.Kind.RECONNECT)
    last = commands.send(instance, InstanceCommand.Kind.RECONNECT)
    assert commands.newest_id() == last.pk


def test_an_unfinished_command_has_no_result(instance: Instance) -> None:
    command = commands.send(instance, InstanceCommand.Kind.RECONNECT)
    assert commands.result_of(command.pk) is None


def test_waiting_for_several_commands_gives_the_answers_that_came(instance: Instance, settings: Any) -> None:
    settings.WAZIPER_EVENT_POLL_MS = 10
    answered, unanswered = (
        commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "groups"}) for _ in range(2)
    )
    commands.finish(answered.pk, {"data": []}, timezone.now())
    assert commands.wait_for_all([answered.pk, unanswered.pk], 0.05) == {answered.pk: {"data": []}}


def test_waiting_for_several_commands_ends_once_all_are_answered(instance: Instance) -> None:
    pks = [commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "groups"}).pk for _ in range(3)]
    for pk in pks:
        commands.finish(pk, {"data": pk}, timezone.now())
    started = time.monotonic()
    assert commands.wait_for_all(pks, 30) == {pk: {"data": pk} for pk in pks}
    assert time.monotonic() - started < 5


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_finish_wakes_the_waiter_before_its_next_look(
    instance: Instance, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; elsewhere the waiter looks once per poll interval")
    # A poll interval far longer than the test: only the NOTIFY can end the wait in time.
    settings.WAZIPER_EVENT_POLL_MS = 60_000
    command = commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "profile"})
    commands._ensure_listener()
    assert commands._listener is not None
    assert commands._listener.listening.wait(10)
    answered: dict[str, Any] = {}

    def wait() -> None:
        started = time.monotonic()
        answered["result"] = commands.wait_for(command.pk, 30)
        answered["took"] = time.monotonic() - started
        connections.close_all()

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)  # the waiter has looked once and sleeps until woken
    commands.finish(command.pk, {"data": "hi"}, timezone.now())
    waiter.join(20)
    assert answered["result"] == {"data": "hi"}
    assert answered["took"] < 5
