"""queueing.dispatch against a real database (SQLite here; PostgreSQL again under `make test`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from instances.models import Instance
from queueing import dispatch
from queueing.models import QueuedMessage
from tests.support.queue import MID, T0, queue_many, queue_message, race

pytestmark = [pytest.mark.django_db, pytest.mark.dbengines]
LATER = T0 + timedelta(seconds=10)


def fresh(message: QueuedMessage) -> QueuedMessage:
    return QueuedMessage.objects.get(pk=message.pk)


def test_claims_by_priority_then_oldest_first(instance: Instance) -> None:
    old, new = queue_message(instance, text="old"), queue_message(instance, text="new")
    urgent = queue_message(instance, text="urgent", priority=5)
    order = [dispatch.claim_next(instance.pk, "w1", LATER).pk for _ in range(3)]
    assert order == [urgent.pk, old.pk, new.pk]
    assert dispatch.claim_next(instance.pk, "w1", LATER) is None


def test_a_message_is_not_claimed_before_its_not_before(instance: Instance) -> None:
    queue_message(instance, not_before=LATER)
    assert dispatch.claim_next(instance.pk, "w1", LATER - timedelta(microseconds=1)) is None
    assert dispatch.claim_next(instance.pk, "w1", LATER) is not None


def test_cancelled_and_other_instances_messages_are_not_claimed(instance: Instance, owner) -> None:
    from instances.service import create_instance

    queue_message(instance, status="cancelled")
    queue_message(create_instance(owner, transport="sandbox"))
    assert dispatch.claim_next(instance.pk, "w1", LATER) is None


def test_a_text_claim_is_handed_off_and_counted_at_once(instance: Instance) -> None:
    message = queue_message(instance)
    claimed = dispatch.claim_next(instance.pk, "w1", LATER)
    assert claimed.handed_off
    assert claimed.ref == str(message.message_id)
    row = fresh(message)
    assert (row.status, row.claimed_by, row.claimed_at, row.handed_off_at, row.attempts) == (
        "sending",
        "w1",
        LATER,
        LATER,
        1,
    )


def test_a_media_claim_waits_for_its_download_before_counting(instance: Instance) -> None:
    message = queue_message(instance, kind="image", media_url="https://93.184.215.14/a.png")
    claimed = dispatch.claim_next(instance.pk, "w1", LATER)
    assert not claimed.handed_off
    assert (fresh(message).handed_off_at, fresh(message).attempts) == (None, 0)
    assert dispatch.mark_handed_off(message.pk, "w1", LATER)
    assert (fresh(message).handed_off_at, fresh(message).attempts) == (LATER, 1)


def test_only_a_claim_never_handed_off_can_be_released(instance: Instance) -> None:
    text = queue_message(instance)
    dispatch.claim_next(instance.pk, "w1", LATER)
    assert not dispatch.release(text.pk, "w1", LATER)
    assert fresh(text).status == "sending"


def test_instances_with_due_is_one_query(instance: Instance, owner, django_assert_num_queries) -> None:
    from instances.service import create_instance

    idle = create_instance(owner, transport="sandbox")
    later = create_instance(owner, transport="sandbox")
    queue_message(instance)
    queue_message(later, not_before=LATER + timedelta(hours=1))
    with django_assert_num_queries(1):
        assert dispatch.instances_with_due([instance.pk, idle.pk, later.pk], LATER) == {instance.pk}


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_claim_each_message_exactly_once(instance: Instance) -> None:
    messages = queue_many(instance, 60)

    def work(worker_id: str) -> list[int]:
        mine, misses = [], 0
        while misses < 3:
            got = dispatch.claim_next(instance.pk, worker_id, LATER)
            if got is None:
                misses += 1
            else:
                mine.append(got.pk)
        return mine

    claimed = dict(zip(("w1", "w2"), race(work, [("w1",), ("w2",)]), strict=True))
    every = claimed["w1"] + claimed["w2"]
    assert sorted(every) == sorted(m.pk for m in messages)  # each once, none lost
    by_row = dict(QueuedMessage.objects.values_list("pk", "claimed_by"))
    assert all(by_row[pk] == w for w, pks in claimed.items() for pk in pks)


def test_a_sent_result_records_whatsapps_id(instance: Instance) -> None:
    message = queue_message(instance)
    claimed = dispatch.claim_next(instance.pk, "w1", LATER)
    assert dispatch.record_sent(instance.pk, claimed.ref, "3EB0ABC", LATER)
    row = fresh(message)
    assert (row.status, row.wa_message_id, row.sent_at) == ("sent", "3EB0ABC", LATER)


def test_a_late_sent_result_settles_an_uncertain_message(instance: Instance) -> None:
    message = queue_message(instance)
    claimed = dispatch.claim_next(instance.pk, "w1", LATER)
    dispatch.mark_uncertain(message.pk, "w1", LATER, "timed out")
    assert dispatch.record_sent(instance.pk, claimed.ref, "3EB0LATE", LATER)
    assert fresh(message).status == "sent"


def test_results_for_unknown_or_foreign_refs_change_nothing(instance: Instance, owner) -> None:
    from instances.service import create_instance

    message = queue_message(instance)
    claimed = dispatch.claim_next(instance.pk, "w1", LATER)
    other = create_instance(owner, transport="sandbox")
    assert not dispatch.record_sent(other.pk, claimed.ref, "x", LATER)
    assert not dispatch.record_sent(instance.pk, "not-a-uuid", "x", LATER)
    assert (
        dispatch.record_failure(
            instance.pk, claimed.ref, "w2", error="x", retryable=True, now=LATER, rand=MID
        )
        is None
    )
    assert fresh(message).status == "sending"


def fail(instance: Instance, message: QueuedMessage, **kw) -> str | None:
    claimed = dispatch.claim_next(instance.pk, "w1", message.not_before)
    kw.setdefault("retryable", True)
    return dispatch.record_failure(
        instance.pk, claimed.ref, "w1", error=kw.pop("error", "boom"), now=message.not_before, rand=MID, **kw
    )


def test_a_transient_failure_retries_with_backoff(instance: Instance) -> None:
    message = queue_message(instance, not_before=LATER)
    assert fail(instance, message) == "queued"
    row = fresh(message)
    assert (row.attempts, row.last_error, row.claimed_by) == (1, "boom", "")
    assert row.not_before == LATER + timedelta(seconds=3.75)  # 5 s base, equal jitter at 0.5


def test_transient_failures_give_up_after_max_attempts(instance: Instance, settings) -> None:
    settings.WAZIPER_SEND_MAX_ATTEMPTS = 3
    message = queue_message(instance)
    outcomes = []
    for _ in range(3):
        outcomes.append(fail(instance, fresh(message)))
    assert outcomes == ["queued", "queued", "failed"]
    row = fresh(message)
    assert (row.status, row.attempts, row.failed_at is not None) == ("failed", 3, True)


def test_a_permanent_failure_fails_at_once_with_the_reason(instance: Instance) -> None:
    message = queue_message(instance)
    assert fail(instance, message, retryable=False, error="recipient is not on WhatsApp") == "failed"
    row = fresh(message)
    assert (row.attempts, row.last_error) == (1, "recipient is not on WhatsApp")


def test_a_dead_socket_requeues_without_using_an_attempt(instance: Instance) -> None:
    message = queue_message(instance)
    assert fail(instance, message, dead_socket=True) == "queued"
    row = fresh(message)
    assert (row.attempts, row.not_before) == (0, message.not_before)


def test_a_failed_download_counts_as_an_attempt(instance: Instance) -> None:
    message = queue_message(instance, kind="image", media_url="https://93.184.215.14/a.png")
    assert fail(instance, message, handed_off=False, retryable=False, error="HTTP 404") == "failed"
    assert fresh(message).attempts == 1


def test_receipts_move_forward_only(instance: Instance) -> None:
    message = queue_message(instance, status="sent", wa_message_id="W1")
    assert dispatch.apply_receipt(instance.pk, ["W1"], "delivered", LATER, LATER) == 1
    assert dispatch.apply_receipt(instance.pk, ["W1"], "read", LATER + timedelta(seconds=1), LATER) == 1
    assert dispatch.apply_receipt(instance.pk, ["W1"], "delivered", LATER + timedelta(seconds=2), LATER) == 0
    row = fresh(message)
    assert (row.status, row.delivered_at, row.read_at) == ("read", LATER, LATER + timedelta(seconds=1))


def test_a_read_receipt_without_delivered_fills_delivered_at(instance: Instance) -> None:
    message = queue_message(instance, status="sent", wa_message_id="W2")
    dispatch.apply_receipt(instance.pk, ["W2"], "played", LATER, LATER)
    assert (fresh(message).status, fresh(message).delivered_at) == ("read", LATER)


def test_receipts_of_other_instances_or_unknown_kinds_change_nothing(instance: Instance, owner) -> None:
    from instances.service import create_instance

    queue_message(instance, status="sent", wa_message_id="W3")
    other = create_instance(owner, transport="sandbox")
    assert dispatch.apply_receipt(other.pk, ["W3"], "read", LATER, LATER) == 0
    assert dispatch.apply_receipt(instance.pk, ["W3"], "server", LATER, LATER) == 0
    assert dispatch.apply_receipt(instance.pk, [], "read", LATER, LATER) == 0


def orphan_setup(instance: Instance) -> tuple[QueuedMessage, QueuedMessage, QueuedMessage]:
    handed = queue_message(instance, status="sending", claimed_by="dead", handed_off_at=T0, attempts=1)
    downloading = queue_message(
        instance, status="sending", claimed_by="dead", kind="image", media_url="https://93.184.215.14/a.png"
    )
    live = queue_message(instance, status="sending", claimed_by="alive", handed_off_at=T0, attempts=1)
    return handed, downloading, live


def test_dead_workers_sends_become_uncertain_and_their_unsent_claims_return(instance: Instance) -> None:
    handed, downloading, live = orphan_setup(instance)
    assert dispatch.resolve_orphans({"alive"}, LATER) == 2
    assert (fresh(handed).status, fresh(handed).uncertain_at) == ("uncertain", LATER)
    assert fresh(downloading).status == "queued"
    assert fresh(live).status == "sending"
    assert dispatch.resolve_orphans({"alive"}, LATER) == 0  # idempotent


def test_resend_uncertain_setting_requeues_instead(instance: Instance, settings) -> None:
    settings.WAZIPER_RESEND_UNCERTAIN = True
    handed, _, _ = orphan_setup(instance)
    dispatch.resolve_orphans({"alive"}, LATER)
    row = fresh(handed)
    assert row.status == "queued"
    assert row.last_error.startswith("re-sent after:")


def test_nothing_is_ever_deleted(instance: Instance) -> None:
    orphan_setup(instance)
    queue_many(instance, 3)
    dispatch.resolve_orphans(set(), LATER)
    assert QueuedMessage.objects.count() == 6


def test_a_live_workers_forgotten_claims_are_settled_but_tracked_ones_kept(instance: Instance) -> None:
    forgotten = queue_message(instance, status="sending", claimed_by="w1", claimed_at=T0, handed_off_at=T0)
    never_sent = queue_message(instance, status="sending", claimed_by="w1", claimed_at=T0)
    tracked = queue_message(instance, status="sending", claimed_by="w1", claimed_at=T0, handed_off_at=T0)
    recent = queue_message(instance, status="sending", claimed_by="w1", claimed_at=LATER, handed_off_at=LATER)
    other = queue_message(instance, status="sending", claimed_by="w2", claimed_at=T0, handed_off_at=T0)
    assert dispatch.resolve_forgotten("w1", [tracked.pk], LATER, LATER) == 2
    assert [fresh(m).status for m in (forgotten, never_sent, tracked, recent, other)] == [
        "uncertain",
        "queued",
        "sending",
        "sending",
        "sending",
    ]


# --- message.status: the outbox events integrations hear of ----------------------------------


def statuses(instance: Instance) -> list[tuple[str, str]]:
    from instances.models import InstanceEvent

    rows = InstanceEvent.objects.filter(instance=instance, kind="message.status").order_by("pk")
    return [(row.payload["message_id"], row.payload["status"]) for row in rows]


def test_a_send_reports_sent_delivered_and_read_as_message_status_events(instance: Instance) -> None:
    from instances.models import InstanceEvent

    message = queue_message(instance, chat_id="6281234567890")
    claimed = dispatch.claim_next(instance.pk, "w1", LATER)
    dispatch.record_sent(instance.pk, claimed.ref, "3EB0ABC", LATER)
    dispatch.apply_receipt(instance.pk, ["3EB0ABC"], "delivered", LATER, LATER)
    dispatch.apply_receipt(instance.pk, ["3EB0ABC"], "read", LATER, LATER)
    ref = str(message.message_id)
    assert statuses(instance) == [(ref, "sent"), (ref, "delivered"), (ref, "read")]
    payload = InstanceEvent.objects.filter(kind="message.status").last().payload
    assert payload == {
        "message_id": ref,
        "instance_id": instance.instance_id,
        "chat_id": "6281234567890",
        "status": "read",
        "wa_message_id": "3EB0ABC",
        "at": LATER.isoformat(),
    }


def test_a_receipt_that_changes_nothing_reports_nothing(instance: Instance) -> None:
    queue_message(instance, status="read", wa_message_id="W9")
    dispatch.apply_receipt(instance.pk, ["W9"], "delivered", LATER, LATER)
    assert statuses(instance) == []


def test_a_failed_send_reports_failed_with_the_error_and_a_retry_reports_nothing(instance: Instance) -> None:
    from instances.models import InstanceEvent

    retried, failed = queue_message(instance), queue_message(instance)
    assert fail(instance, retried) == "queued"
    assert fail(instance, failed, retryable=False, error="not on WhatsApp") == "failed"
    assert statuses(instance) == [(str(failed.message_id), "failed")]
    assert InstanceEvent.objects.get(kind="message.status").payload["error"] == "not on WhatsApp"


def test_messages_of_a_dead_worker_report_uncertain(instance: Instance) -> None:
    handed, _, _ = orphan_setup(instance)
    dispatch.resolve_orphans({"alive"}, LATER)
    assert statuses(instance) == [(str(handed.message_id), "uncertain")]


def test_a_status_event_rolls_back_with_its_change(instance: Instance) -> None:
    from django.db import transaction

    queue_message(instance, status="sent", wa_message_id="W8")
    with pytest.raises(RuntimeError), transaction.atomic():
        dispatch.apply_receipt(instance.pk, ["W8"], "delivered", LATER, LATER)
        raise RuntimeError("the caller's transaction fails")
    assert statuses(instance) == []
    assert QueuedMessage.objects.get(wa_message_id="W8").status == "sent"
