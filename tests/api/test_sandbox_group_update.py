"""POST /sandbox/<id>/group_update: a simulated contact changes a group the sandbox account is
in; the real worker (on a fake clock) reports it as neonize would, the directory records it and
the webhooks hear of it as `group.updated` (Baileys' `groups.update` in the waziper format)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from instances.models import Instance, SandboxIncoming, SandboxPhone
from instances.service import create_instance
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.webhooks import make_endpoint
from tests.support.worker import SteppedWorker, connected_sandbox
from webhooks.deliveries import load_jobs
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
GROUP = "120363000000000001@g.us"
BUDI = "628222000111"
URL = "https://93.184.215.14/hook"


def url(instance: Instance | str) -> str:
    return f"/sandbox/{instance if isinstance(instance, str) else instance.instance_id}/group_update"


def linked(instance: Instance) -> Instance:
    SandboxPhone.objects.update_or_create(
        instance=instance, defaults={"linked_jid": "628111:3@s.whatsapp.net"}
    )
    return instance


def bodies(worker: SteppedWorker) -> dict[str, dict[str, Any]]:
    """The body each endpoint's delivery of group.updated posts, by the endpoint's format."""
    rows = WebhookDelivery.objects.filter(event_type="group.updated").select_related("endpoint")
    jobs = load_jobs([row.pk for row in rows], worker.clock.now())
    formats = {row.pk: row.endpoint.format for row in rows}
    return {formats[job.pk]: json.loads(job.body or "null") for job in jobs}


def test_a_group_change_reaches_the_webhooks_in_both_formats(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected_sandbox(owner, worker, groups=[{"id": GROUP, "name": "Tim", "participants": [BUDI]}])
    make_endpoint(owner, URL, instance=instance)
    make_endpoint(owner, URL, instance=instance, format="waziper")
    body = {"group": GROUP, "by": BUDI, "name": "Tim Launch", "description": "Jadwal rilis", "locked": True}
    response = owner_client.post(url(instance), body, format="json")
    assert response.status_code == 202
    assert (response.json()["data"]["kind"], response.json()["data"]["connected"]) == ("group_update", True)
    worker.tick()
    posted = bodies(worker)
    standard = posted["standard"]
    assert (standard["type"], standard["data"]["instance_id"], standard["data"]["group_id"]) == (
        "group.updated",
        instance.instance_id,
        GROUP,
    )
    assert standard["data"]["changes"] == {
        "name": "Tim Launch",
        "description": "Jadwal rilis",
        "locked": True,
    }
    assert standard["data"]["by"] == f"{BUDI}@s.whatsapp.net"
    assert posted["waziper"] == {
        "instance_id": instance.instance_id,
        "data": {
            "event": "groups.update",
            "data": [
                {
                    "id": GROUP,
                    "subject": "Tim Launch",
                    "desc": "Jadwal rilis",
                    "restrict": True,
                    "author": f"{BUDI}@s.whatsapp.net",
                }
            ],
        },
    }


def test_participants_alone_reach_only_the_standard_format(
    owner: Any, owner_client: APIClient, worker: SteppedWorker
) -> None:
    instance = connected_sandbox(owner, worker, groups=[{"id": GROUP, "name": "Tim", "participants": [BUDI]}])
    make_endpoint(owner, URL, instance=instance)
    make_endpoint(owner, URL, instance=instance, format="waziper")
    response = owner_client.post(url(instance), {"group": GROUP, "add": "628333000111"}, format="json")
    assert response.status_code == 202
    worker.tick()
    posted = bodies(worker)
    assert list(posted) == ["standard"]
    assert posted["standard"]["data"]["participants"] == {"added": ["628333000111@s.whatsapp.net"]}


def test_the_sandbox_phones_groups_change_with_it(
    owner: Any, owner_client: APIClient, worker: SteppedWorker, fake_wait: Any
) -> None:
    instance = connected_sandbox(owner, worker, groups=[{"id": GROUP, "name": "Tim", "participants": [BUDI]}])
    owner_client.post(url(instance), {"group": GROUP, "name": "Tim Launch", "remove": BUDI}, format="json")
    worker.tick()
    worker.run_while_waiting(fake_wait)
    answer = owner_client.get(f"/instances/{instance.instance_id}/groups/{GROUP}", {"refresh": 1})
    group = answer.json()["data"]["group"]
    assert (group["name"], BUDI in [p["phone"] for p in group["participants"]]) == ("Tim Launch", False)


def test_a_form_body_works_as_waziper_clients_send_it(owner_client: APIClient, instance: Instance) -> None:
    linked(instance)
    response = owner_client.post(url(instance), {"group": GROUP, "announce": "true", "promote": BUDI})
    assert response.status_code == 202
    assert SandboxIncoming.objects.get().message["participants"] == {"promoted": [BUDI]}


def test_bad_fields_are_a_400_naming_each(owner_client: APIClient, instance: Instance) -> None:
    linked(instance)
    response = owner_client.post(url(instance), {"group": "x", "locked": "maybe"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"group", "locked"}
    assert not SandboxIncoming.objects.exists()


def test_nothing_to_change_is_a_400(owner_client: APIClient, instance: Instance) -> None:
    linked(instance)
    response = owner_client.post(url(instance), {"group": GROUP}, format="json")
    assert response.status_code == 400
    assert "Nothing changes" in response.json()["message"]


def test_an_instance_without_a_linked_account_is_a_409(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.post(url(instance), {"group": GROUP, "name": "Tim"}, format="json").status_code == 409


def test_a_neonize_instance_is_a_409(owner: Any, owner_client: APIClient) -> None:
    real = create_instance(owner, transport="neonize")
    assert owner_client.post(url(real), {"group": GROUP, "name": "Tim"}, format="json").status_code == 409


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    assert owner_client.post(url("0123456789ABC"), {"group": GROUP, "name": "Tim"}).status_code == 404


@auth_matrix("POST", ok=202, action="change")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    linked(instance)
    body = {"group": GROUP, "name": "Tim"}
    assert_auth_outcome(call_as(request, who, where, "POST", url(instance), body=body), expected)
    assert SandboxIncoming.objects.exists() == (expected == 202)
