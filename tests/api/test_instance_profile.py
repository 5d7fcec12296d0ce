"""GET /instances/<id>/profile: a question to the live session, through the real worker."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Instance, InstanceCommand
from instances.service import create_instance, request_running
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import FakeWait

pytestmark = pytest.mark.django_db


def url(instance: Instance) -> str:
    return f"/instances/{instance.instance_id}/profile"


def connected(owner: Any, worker: SteppedWorker, **behaviour: Any) -> Instance:
    instance = create_instance(owner, transport="sandbox", sandbox={"linked": True, **behaviour})
    request_running(instance)
    worker.tick(times=5)
    instance.refresh_from_db()
    return instance


def test_it_answers_with_the_linked_accounts_jid_and_name(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker)
    worker.run_while_waiting(fake_wait)
    response = owner_client.get(url(instance))
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": "Success",
        "data": {
            "jid": instance.jid,
            "name": "Sandbox Phone",
            "picture_url": None,
            "about": "Hey there! I am using WhatsApp.",
        },
    }


def test_a_stopped_instance_is_503_with_its_state_and_no_retry_after(
    owner_client: APIClient, instance: Instance
) -> None:
    response = owner_client.get(url(instance))
    assert response.status_code == 503
    assert response.json()["instance_status"] == "stopped"
    assert "Retry-After" not in response


def test_an_instance_still_connecting_is_503_with_retry_after(
    owner_client: APIClient, instance: Instance
) -> None:
    request_running(instance)
    Instance.objects.filter(pk=instance.pk).update(status="connecting")
    response = owner_client.get(url(instance))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["instance_status"] == "connecting"


def test_no_answer_within_the_bound_is_504_and_the_question_is_cancelled(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait, settings: Any
) -> None:
    settings.WAZIPER_SESSION_QUERY_TIMEOUT = 2
    instance = connected(owner, worker, query="hang")
    worker.run_while_waiting(fake_wait)
    response = owner_client.get(url(instance))
    assert response.status_code == 504
    assert InstanceCommand.objects.get(kind="query").result["code"] == "cancelled"


def test_a_refusal_from_whatsapp_is_502(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: FakeWait
) -> None:
    instance = connected(owner, worker, query="fail")
    worker.run_while_waiting(fake_wait)
    response = owner_client.get(url(instance))
    assert response.status_code == 502
    assert response.json()["reason"] == "failed"


def test_someone_elses_instance_is_404(stranger_token: str, instance: Instance) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger_token}")
    assert client.get(url(instance)).status_code == 404


def test_no_token_is_401(instance: Instance) -> None:
    assert APIClient().get(url(instance)).status_code == 401
