"""Idempotency-Key under concurrency: many requests with one key at once make one message."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from instances.models import Instance
from queueing.models import QueuedMessage
from tests.support.queue import race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.dbengines]
N = 8


def post_all(token: str, url: str, body: dict) -> list[tuple[int, dict]]:
    def one() -> tuple[int, dict]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="race-key")
        return response.status_code, response.json()

    return race(one, [()] * N)


def test_concurrent_sends_with_one_key_make_one_message(owner_token: str, instance: Instance) -> None:
    results = post_all(
        owner_token,
        f"/send_message?instance_id={instance.instance_id}",
        {"chat_id": "6281234567890", "caption": "exactly once"},
    )
    codes = sorted(code for code, _ in results)
    assert codes == [200] * (N - 1) + [202]
    assert len({body["data"]["message_id"] for _, body in results}) == 1
    assert QueuedMessage.objects.count() == 1


def test_concurrent_bulks_with_one_key_make_one_bulk(owner_token: str, instance: Instance) -> None:
    results = post_all(
        owner_token,
        f"/send_bulk?instance_id={instance.instance_id}",
        {
            "caption": "{Hi|Hello} %name%",
            "recipients": [{"chat_id": f"62812000000{i:02d}", "params": {"name": str(i)}} for i in range(20)],
        },
    )
    assert sorted(code for code, _ in results) == [200] * (N - 1) + [202]
    assert len({body["data"]["bulk_id"] for _, body in results}) == 1
    assert QueuedMessage.objects.count() == 20
