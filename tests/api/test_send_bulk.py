"""POST /send_bulk: many rows in one transaction, placeholders and spintax per recipient."""

from __future__ import annotations

import fnmatch
import json
import socket
import threading
import time
import tracemalloc

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from api.serializers import queue as serializers_queue
from instances.models import Instance
from queueing import netguard
from queueing.models import QueuedMessage
from queueing.validation import TEXT_LIMIT

pytestmark = pytest.mark.django_db


def bulk(client: APIClient, instance: Instance, body: dict, **headers):
    return client.post(f"/send_bulk?instance_id={instance.instance_id}", body, format="json", **headers)


def test_it_queues_one_message_per_recipient_with_placeholders_filled(
    owner_client: APIClient, instance: Instance
) -> None:
    response = bulk(
        owner_client,
        instance,
        {
            "caption": "Hi %name%, your order %order% is ready",
            "recipients": [
                {"chat_id": "6281200000001", "params": {"name": "Ann", "order": "A1"}},
                {"chat_id": "+6281200000002", "params": {"name": "Budi", "order": "B2"}},
            ],
        },
    )
    assert response.status_code == 202
    data = response.json()["data"]
    assert data["count"] == 2
    assert len(data["messages"]) == 2
    rows = list(QueuedMessage.objects.order_by("id").values_list("chat_id", "text", "bulk_id"))
    assert rows[0][:2] == ("6281200000001", "Hi Ann, your order A1 is ready")
    assert rows[1][:2] == ("6281200000002", "Hi Budi, your order B2 is ready")
    assert str(rows[0][2]) == str(rows[1][2]) == data["bulk_id"]


def test_spintax_is_spun_per_recipient(owner_client: APIClient, instance: Instance) -> None:
    recipients = [f"62812000{i:05d}" for i in range(60)]
    response = bulk(owner_client, instance, {"message": "{Hi|Hello|Hey} there", "recipients": recipients})
    assert response.status_code == 202
    texts = set(QueuedMessage.objects.values_list("text", flat=True))
    assert texts == {"Hi there", "Hello there", "Hey there"}


def test_a_list_of_distinct_messages_falls_back_to_top_level_fields(
    owner_client: APIClient, instance: Instance
) -> None:
    response = bulk(
        owner_client,
        instance,
        {
            "caption": "default",
            "messages": [
                {"chat_id": "6281200000001"},
                {"chat_id": "6281200000002", "caption": "own text"},
                {
                    "chat_id": "120363025246125486@g.us",
                    "type": "document",
                    "media_url": "https://93.184.215.14/%n%.pdf",
                    "params": {"n": "inv-7"},
                },
            ],
        },
    )
    assert response.status_code == 202
    rows = list(QueuedMessage.objects.order_by("id").values_list("kind", "text", "media_url"))
    assert rows == [
        ("text", "default", ""),
        ("text", "own text", ""),
        ("document", "default", "https://93.184.215.14/inv-7.pdf"),
    ]


def test_one_bad_recipient_refuses_the_whole_bulk_naming_it(
    owner_client: APIClient, instance: Instance
) -> None:
    response = bulk(
        owner_client, instance, {"caption": "x", "recipients": ["6281200000001", "nope", "6281200000003"]}
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"recipients.1.chat_id"}
    assert not QueuedMessage.objects.exists()


def test_a_template_over_the_text_limit_is_refused_once_before_rendering(
    owner_client: APIClient, instance: Instance
) -> None:
    # Rendered per recipient, an oversized template multiplies its cost by the recipient count,
    # even when spintax would shrink each rendering under the limit.
    template = "{a|" + "b" * TEXT_LIMIT + "}"
    response = bulk(owner_client, instance, {"caption": template, "recipients": ["6281200000001"] * 3})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"caption"}
    assert not QueuedMessage.objects.exists()


def test_more_than_the_limit_is_a_400(owner_client: APIClient, instance: Instance, settings) -> None:
    settings.WAZIPER_BULK_LIMIT = 3
    response = bulk(
        owner_client, instance, {"caption": "x", "recipients": [f"628120000000{i}" for i in range(4)]}
    )
    assert response.status_code == 400
    assert "recipients" in response.json()["errors"]


def test_recipients_or_messages_is_required(owner_client: APIClient, instance: Instance) -> None:
    response = bulk(owner_client, instance, {"caption": "x"})
    assert response.status_code == 400
    assert "recipients" in response.json()["errors"]


def test_form_posts_may_list_recipients_comma_separated(
    api: APIClient, owner_token: str, instance: Instance
) -> None:
    response = api.post(
        f"/send_bulk?access_token={owner_token}&instance_id={instance.instance_id}",
        {"message": "hi", "recipients": "6281200000001, 6281200000002"},
    )
    assert response.status_code == 202
    assert QueuedMessage.objects.count() == 2


def test_a_database_failure_midway_writes_nothing(
    owner_client: APIClient, instance: Instance, monkeypatch
) -> None:
    real = QueuedMessage.objects.bulk_create

    def full_after_insert(rows, *args, **kwargs):
        real(rows[:2])
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(QueuedMessage.objects, "bulk_create", full_after_insert)
    response = bulk(
        owner_client, instance, {"caption": "x", "recipients": [f"628120000000{i}" for i in range(5)]}
    )
    assert response.status_code == 503
    assert not QueuedMessage.objects.exists()


def test_a_repeated_bulk_with_one_key_returns_the_first_bulk(
    owner_client: APIClient, instance: Instance
) -> None:
    body = {"caption": "{a|b|c}", "recipients": [f"628120000000{i}" for i in range(5)]}
    first = bulk(owner_client, instance, body, HTTP_IDEMPOTENCY_KEY="blast-1")
    again = bulk(owner_client, instance, body, HTTP_IDEMPOTENCY_KEY="blast-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["data"] == again.json()["data"]
    assert QueuedMessage.objects.count() == 5


def test_someone_elses_instance_is_a_404(api: APIClient, stranger_token: str, instance: Instance) -> None:
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert bulk(api, instance, {"caption": "x", "recipients": ["6281200000001"]}).status_code == 404


# --- what one request may cost ---------------------------------------------------------------

BODY_LIMIT = 2 * 2**20  # DATA_UPLOAD_MAX_MEMORY_SIZE
NESTED = "{" * 50 + "a" + "|b}" * 50  # spintax 50 deep: 50 passes over the text, unparsed


def phones(n: int) -> list[str]:
    return [f"6281{i:09d}" for i in range(n)]


def test_a_param_value_over_its_cap_is_refused_naming_it(owner_client: APIClient, instance: Instance) -> None:
    # 103 KiB of this built 2 GB of text before the length check refused it.
    body = {
        "message": "%a%" * 100,
        "recipients": [{"chat_id": "6281200000001", "params": {"a": "x" * 102_400}}],
    }
    response = bulk(owner_client, instance, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"recipients.0.params.a"}
    assert str(serializers_queue.PARAM_VALUE_LIMIT) in errors["recipients.0.params.a"][0]


def test_a_recipient_with_too_many_params_is_refused(owner_client: APIClient, instance: Instance) -> None:
    params = {f"p{i}": "" for i in range(101)}
    response = bulk(
        owner_client,
        instance,
        {"message": "hi", "recipients": [{"chat_id": "6281200000001", "params": params}]},
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"recipients.0.params"}


def test_a_rendering_past_the_text_limit_is_refused_naming_the_field(
    owner_client: APIClient, instance: Instance
) -> None:
    body = {"message": "%a%" * 20, "recipients": [{"chat_id": "6281200000001", "params": {"a": "x" * 4_000}}]}
    response = bulk(owner_client, instance, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"recipients.0.message"}
    assert str(TEXT_LIMIT) in errors["recipients.0.message"][0]


def test_a_messages_own_caption_is_held_to_the_template_limit(
    owner_client: APIClient, instance: Instance
) -> None:
    # Only the top-level template was checked before rendering: an item's own text of any size
    # under the body limit was spun whole, then measured.
    response = bulk(
        owner_client, instance, {"messages": [{"chat_id": "6281200000001", "caption": "{a|b}" * 14_000}]}
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"messages.0.caption"}
    assert not QueuedMessage.objects.exists()


def test_a_bulk_past_the_work_budget_is_refused_naming_the_template(
    owner_client: APIClient, instance: Instance
) -> None:
    # 13,000 groups spun for each of 50 recipients: more steps than one request may take.
    response = bulk(owner_client, instance, {"message": "{a|b}" * 13_000, "recipients": phones(50)})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"message"}
    assert "per request" in errors["message"][0]


def _fit(make, hi: int) -> dict:
    """The largest make(n), n <= hi, whose JSON fits under the body limit."""
    lo, best = 1, make(1)
    while lo <= hi:
        mid = (lo + hi) // 2
        if len(json.dumps(body := make(mid))) <= BODY_LIMIT - 4096:
            best, lo = body, mid + 1
        else:
            hi = mid - 1
    return best


COSTLY_BODIES = {
    # 1,000 recipients under a template of 21,845 `%a%`, each `a` as long as fits: 43 MB of text
    # per recipient, 40 GB in all.
    "placeholders": (
        lambda: _fit(
            lambda size: {
                "message": "%a%" * 21_845,
                "recipients": [{"chat_id": p, "params": {"a": "x" * size}} for p in phones(1000)],
            },
            BODY_LIMIT // 1000,
        ),
        "message",
    ),
    # 1,000 recipients under a 64 KiB template nested 50 deep (25 s of CPU before).
    "deep spintax": (
        {"message": (NESTED * 330)[:TEXT_LIMIT], "recipients": ",".join(phones(1000))},
        "message",
    ),
    # 21,845 groups per rendering.
    "wide spintax": ({"message": "{|}" * 21_845, "recipients": ",".join(phones(1000))}, "message"),
    # 1,000 messages whose own captions fill the body with deep spintax.
    "own captions": (
        lambda: _fit(
            lambda reps: {"messages": [{"chat_id": p, "caption": NESTED * reps} for p in phones(1000)]}, 20
        ),
        "messages.*.caption",
    ),
    # Spintax that spins into placeholders, with values that look like spintax.
    "spun placeholders": (
        lambda: _fit(
            lambda size: {
                "message": "%{a|a}%" * 9_362,
                "recipients": [{"chat_id": p, "params": {"a": "{x|y}" * size}} for p in phones(1000)],
            },
            BODY_LIMIT // 5000,
        ),
        "message",
    ),
    # Every rendering the longest text allowed: more characters than one request may build.
    "long renderings": (
        {
            "message": "%a%" * 16,
            "recipients": [{"chat_id": p, "params": {"a": "x" * 4096}} for p in phones(500)],
        },
        "message",
    ),
    # A million recipients in one comma-separated string, each validated before being counted.
    "recipient string": (
        {"message": "hi", "recipients": ",".join(["1"] * (BODY_LIMIT // 2 - 100))},
        "recipients",
    ),
}


@pytest.mark.parametrize("case", COSTLY_BODIES)
def test_the_costliest_bodies_under_the_body_limit_are_refused_for_little_cpu(
    owner_client: APIClient, instance: Instance, case: str
) -> None:
    make, field = COSTLY_BODIES[case]
    body = make() if callable(make) else make
    assert len(json.dumps(body)) <= BODY_LIMIT
    started = time.process_time()
    response = bulk(owner_client, instance, body)
    cpu_s = time.process_time() - started
    assert response.status_code == 400
    assert any(fnmatch.fnmatch(name, field) for name in response.json()["errors"])
    assert cpu_s < 1.0  # 0.1–0.3 s measured; seconds to minutes before (docs/performance.md)


def test_the_costliest_body_is_refused_with_a_few_mb_of_memory(
    owner_client: APIClient, instance: Instance
) -> None:
    make, _ = COSTLY_BODIES["placeholders"]
    body = make()
    tracemalloc.start()
    try:
        response = bulk(owner_client, instance, body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 400
    assert peak < 48 * 2**20  # the 2 MiB body, its parse and copies; gigabytes before


def test_a_thousand_media_hosts_are_looked_up_together_under_one_deadline(
    owner_client: APIClient, instance: Instance, monkeypatch
) -> None:
    # Each recipient's host was checked one after the other, up to 2 s each; a name server that
    # never answers held the request 4 × 2 s (then gave way for lack of free lookup threads).
    netguard._EARLY_CACHE.clear()
    release, calls = threading.Event(), []

    def silent(host, *args, **kwargs):
        calls.append(host)
        release.wait(30)
        raise socket.gaierror("timed out")

    monkeypatch.setattr(socket, "getaddrinfo", silent)
    messages = [
        {"chat_id": p, "type": "document", "media_url": f"https://h{i}.blackhole.example/a.pdf"}
        for i, p in enumerate(phones(1000))
    ]
    started = time.monotonic()
    try:
        response = bulk(owner_client, instance, {"messages": messages})
        elapsed = time.monotonic() - started
    finally:
        release.set()
        netguard._EARLY_CACHE.clear()
    assert response.status_code == 202  # not answered in time: the download's check decides
    assert len(calls) <= 4  # the lookup threads; no backlog left behind them
    assert elapsed < 5.0  # one deadline of 2 s for all, not 2 s for each of four in a row
