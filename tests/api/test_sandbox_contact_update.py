"""POST /sandbox/<id>/contact_update: a simulated contact sets or removes its profile picture;
the real worker (on a fake clock) reports it as neonize would and the webhooks hear of it as
`contact.updated` (Baileys' `contacts.update` in the waziper format)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Instance, SandboxIncoming, SandboxPhone
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.webhooks import make_endpoint
from tests.support.worker import SteppedWorker, connected_sandbox
from webhooks.deliveries import load_jobs
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
BUDI = "628222000111"
URL = "https://93.184.215.14/hook"


def url(instance: Instance | str) -> str:
    return f"/sandbox/{instance if isinstance(instance, str) else instance.instance_id}/contact_update"


def test_a_picture_removed_reaches_the_webhooks_in_both_formats(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected_sandbox(owner, worker)
    make_endpoint(owner, URL, instance=instance)
    make_endpoint(owner, URL, instance=instance, format="waziper")
    response = owner_client.post(url(instance), {"from": BUDI, "picture": "removed"}, format="json")
    assert response.status_code == 202
    worker.tick()
    rows = WebhookDelivery.objects.filter(event_type="contact.updated").select_related("endpoint")
    formats = {row.pk: row.endpoint.format for row in rows}
    posted = {
        formats[j.pk]: json.loads(j.body or "null") for j in load_jobs(list(formats), worker.clock.now())
    }
    data = posted["standard"]["data"]
    assert (data["contact_id"], data["phone"], data["changes"]) == (
        f"{BUDI}@s.whatsapp.net",
        BUDI,
        {"picture": "removed"},
    )
    assert posted["waziper"]["data"] == {
        "event": "contacts.update",
        "data": [{"id": f"{BUDI}@s.whatsapp.net", "imgUrl": "removed"}],
    }


def test_bad_fields_are_a_400_naming_each(owner_client: APIClient, instance: Instance) -> None:
    SandboxPhone.objects.update_or_create(
        instance=instance, defaults={"linked_jid": "628111:3@s.whatsapp.net"}
    )
    response = owner_client.post(url(instance), {"from": "12", "picture": "blue"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"from", "picture"}


def test_an_instance_without_a_linked_account_is_a_409(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.post(url(instance), {"from": BUDI}, format="json").status_code == 409


@auth_matrix("POST", ok=202, action="change")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    SandboxPhone.objects.update_or_create(
        instance=instance, defaults={"linked_jid": "628111:3@s.whatsapp.net"}
    )
    response = call_as(request, who, where, "POST", url(instance), body={"from": BUDI})
    assert_auth_outcome(response, expected)
    assert SandboxIncoming.objects.exists() == (expected == 202)
