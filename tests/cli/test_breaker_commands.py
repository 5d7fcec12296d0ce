from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from breaker import service as breaker_service
from breaker.models import BreakerReset, BreakerState
from instances.models import Instance, InstanceCommand
from instances.service import create_instance, request_running
from tests.support.worker_sim import hold

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def trip(instance: Instance) -> None:
    now = timezone.now()
    for i in range(15):
        breaker_service.record_failure(
            instance, "connect_failed", f"refused {i}", now=now - timedelta(seconds=15 - i)
        )


def test_reset_breaker_closes_it_records_who_and_asks_the_worker_to_retry(instance: Instance) -> None:
    request_running(instance)
    hold(instance)
    trip(instance)
    data = json.loads(run("reset_breaker", instance.instance_id, "--reason", "proxy fixed", "--json"))
    assert data["reset"] == [{"instance_id": instance.instance_id, "previous_state": "open"}]
    assert BreakerState.objects.get(instance=instance).state == "closed"
    record = BreakerReset.objects.get(instance=instance)
    assert record.source == "command"
    assert record.actor.startswith("command:")
    assert record.reason == "proxy fixed"
    assert InstanceCommand.objects.filter(instance=instance, kind="reconnect").count() == 1


def test_reset_breaker_sends_no_command_when_no_worker_holds_the_instance(instance: Instance) -> None:
    # The next worker to lease it connects at once; a command nobody takes would only pile up.
    request_running(instance)
    trip(instance)
    run("reset_breaker", instance.instance_id)
    assert not InstanceCommand.objects.filter(instance=instance).exists()


def test_reset_breaker_all_resets_only_open_ones(owner: Any) -> None:
    tripped, healthy = (create_instance(owner, transport="sandbox") for _ in range(2))
    trip(tripped)
    output = run("reset_breaker", "--all")
    assert f"{tripped.instance_id}: open → closed" in output
    assert healthy.instance_id not in output
    assert not BreakerReset.objects.filter(instance=healthy).exists()


def test_reset_breaker_refuses_unknown_ids_and_writes_nothing(instance: Instance) -> None:
    trip(instance)
    with pytest.raises(CommandError, match="Unknown instance id"):
        run("reset_breaker", instance.instance_id, "FFFFFFFFFFFFF")
    assert BreakerState.objects.get(instance=instance).state == "open"


@pytest.mark.parametrize("args", [[], ["--all", "6921B60FBF7D9"]])
def test_reset_breaker_needs_ids_or_all_not_both(args: list[str]) -> None:
    with pytest.raises(CommandError, match="ids or --all"):
        run("reset_breaker", *args)


def test_breaker_status_of_one_instance(instance: Instance) -> None:
    trip(instance)
    data = json.loads(run("breaker_status", instance.instance_id, "--json"))
    assert data["state"] == "open"
    assert data["failures_in_window"] == 15
    assert data["threshold"] == 15
    text = run("breaker_status", instance.instance_id.lower())
    assert f"{instance.instance_id}: open" in text
    assert "15/15" in text
    assert "refused 14" in text


def test_breaker_status_table_lists_every_instance(owner: Any) -> None:
    first, second = (create_instance(owner, transport="sandbox", name=f"n{i}") for i in range(2))
    trip(first)
    rows = {r["instance_id"]: r for r in json.loads(run("breaker_status", "--json"))["breakers"]}
    assert rows[first.instance_id]["state"] == "open"
    assert rows[second.instance_id]["state"] == "closed"


def test_breaker_status_of_unknown_instance_is_an_error() -> None:
    with pytest.raises(CommandError, match="Unknown instance id"):
        run("breaker_status", "NOPE")
