"""operations/session_queries.py through a real worker (sandbox transport) on a fake clock: the
question reaches the live session and its answer comes back; no live session, or no answer in
time, is said at once or at the bound, and a cancelled question is never run late."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from breaker.models import BreakerState
from instances import commands
from instances.models import Instance, InstanceCommand
from instances.service import create_instance, request_running
from operations import session_queries
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db


def connected(owner: Any, worker: SteppedWorker, **behaviour: Any) -> Instance:
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True, **behaviour})
    request_running(instance)
    worker.tick(times=5)
    instance.refresh_from_db()
    assert instance.status == "connected"
    return instance


def test_the_live_session_answers_the_question(
    owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker)
    worker.run_while_waiting(fake_wait)
    profile = session_queries.ask(instance, "profile")
    assert profile == {
        "jid": instance.jid,
        "name": "Sandbox Phone",
        "picture_url": None,
        "about": "Hey there! I am using WhatsApp.",
    }


def test_a_stopped_instance_is_unavailable_with_its_state_and_no_retry_time(instance: Instance) -> None:
    with pytest.raises(session_queries.SessionUnavailable) as refused:
        session_queries.ask(instance, "profile")
    assert refused.value.status == "stopped"
    assert refused.value.retry_after_s is None
    assert not InstanceCommand.objects.exists()  # nothing was put to a worker


def test_an_instance_still_connecting_is_unavailable_for_a_few_seconds(instance: Instance) -> None:
    request_running(instance)
    Instance.objects.filter(pk=instance.pk).update(status="connecting")
    with pytest.raises(session_queries.SessionUnavailable) as refused:
        session_queries.ask(instance, "profile")
    assert refused.value.status == "connecting"
    assert refused.value.retry_after_s == session_queries.RETRY_WHILE_CONNECTING_S


def test_an_open_breaker_says_when_it_lets_a_probe_through(instance: Instance) -> None:
    request_running(instance)
    now = timezone.now()
    BreakerState.objects.create(instance=instance, state="open", open_until=now + timedelta(seconds=120))
    Instance.objects.filter(pk=instance.pk).update(status="breaker_open")
    with pytest.raises(session_queries.SessionUnavailable) as refused:
        session_queries.ask(instance, "profile", now=now)
    assert refused.value.status == "breaker_open"
    assert refused.value.retry_after_s == 120


def test_a_connected_row_no_live_worker_holds_is_unavailable(instance: Instance) -> None:
    request_running(instance)
    Instance.objects.filter(pk=instance.pk).update(status="connected", worker_id="", lease_expires_at=None)
    with pytest.raises(session_queries.SessionUnavailable) as refused:
        session_queries.ask(instance, "profile")
    assert refused.value.retry_after_s == session_queries.RETRY_WHILE_CONNECTING_S


def test_no_answer_in_time_is_a_timeout_and_the_question_is_cancelled(
    owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker, query="hang")
    worker.run_while_waiting(fake_wait)
    with pytest.raises(session_queries.SessionTimeout):
        session_queries.ask(instance, "profile", timeout=1.0)
    command = InstanceCommand.objects.get(kind="query")
    assert command.result == {"error": "no answer in time", "code": "cancelled"}
    assert fake_wait.now >= 1.0  # it waited out the bound, no longer


def test_a_refusal_from_whatsapp_is_raised_with_its_code(
    owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker, query="fail")
    worker.run_while_waiting(fake_wait)
    with pytest.raises(session_queries.SessionRefused) as refused:
        session_queries.ask(instance, "profile")
    assert refused.value.code == "failed"


def test_a_question_past_its_deadline_is_never_put_to_the_session(owner: Any, worker: SteppedWorker) -> None:
    instance = connected(owner, worker)
    past = worker.clock.now() - timedelta(seconds=1)
    command = commands.send(instance, InstanceCommand.Kind.QUERY, {"op": "profile"}, deadline=past)
    session = worker.worker.leased[instance.pk].session
    asked: list[str] = []
    session.query = lambda op, *a, **k: asked.append(op)  # type: ignore[method-assign]
    worker.tick()
    assert asked == []
    assert commands.result_of(command.pk)["code"] == "expired"


def test_a_question_for_a_session_that_ends_before_answering_is_answered_unavailable(
    owner: Any, worker: SteppedWorker
) -> None:
    instance = connected(owner, worker, query="hang")
    command = commands.send(
        instance,
        InstanceCommand.Kind.QUERY,
        {"op": "profile"},
        deadline=worker.clock.now() + timedelta(seconds=30),
    )
    worker.tick()
    worker.worker.leased[instance.pk].session.drop()
    worker.tick()
    assert commands.result_of(command.pk) == {
        "error": "the session ended before it answered",
        "code": "unavailable",  # asked again after a reconnect, it may well be answered: a 503
    }


def test_several_questions_are_asked_at_once_and_answered_in_order(
    owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker, on_whatsapp=["628200000002"])
    worker.run_while_waiting(fake_wait)
    answers = session_queries.ask_many(
        instance, "check_numbers", [{"phones": ["628200000002"]}, {"phones": ["628200000003"]}]
    )
    assert [a[0]["on_whatsapp"] for a in answers] == [True, False]
    assert fake_wait.sleeps == 1  # the worker took both on one tick


def test_several_questions_without_all_answers_in_time_cancel_the_rest(
    owner: Any, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker)
    worker.run_while_waiting(fake_wait)
    session = worker.worker.leased[instance.pk].session
    answer = session.query

    def answer_the_first_only(op: str, args: dict[str, Any], **kwargs: Any) -> None:
        if args["phones"] == ["628200000002"]:
            answer(op, args, **kwargs)

    session.query = answer_the_first_only  # type: ignore[method-assign]
    with pytest.raises(session_queries.SessionTimeout):
        session_queries.ask_many(
            instance, "check_numbers", [{"phones": ["628200000002"]}, {"phones": ["628200000003"]}], timeout=1
        )
    results = list(InstanceCommand.objects.order_by("pk").values_list("result", flat=True))
    assert "data" in results[0]
    assert results[1] == {"error": "no answer in time", "code": "cancelled"}
