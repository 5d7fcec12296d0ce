"""ApiView: no API answer may be kept by a browser, proxy or CDN (they carry QR codes, message
text and phone numbers), errors included."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from instances.models import Instance
from tests.support.queue import queue_message
from tests.support.worker_sim import QR_CODE, show_qr

pytestmark = pytest.mark.django_db


def test_the_qr_code_answer_is_not_stored(owner_client: APIClient, instance: Instance) -> None:
    show_qr(instance)
    response = owner_client.get("/get_qrcode", {"instance_id": instance.instance_id})
    assert response.json()["qr"] == QR_CODE
    assert response["Cache-Control"] == "no-store"


def test_a_message_with_its_text_is_not_stored(owner_client: APIClient, instance: Instance) -> None:
    message = queue_message(instance, text="private words")
    response = owner_client.get(f"/messages/{message.message_id}")
    assert response.json()["data"]["caption"] == "private words"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/instances", "/instances/{id}", "/instance?instance_id={id}", "/sandbox/{id}/outbox"]
)
def test_every_answer_about_an_instance_is_not_stored(
    owner_client: APIClient, instance: Instance, path: str
) -> None:
    response = owner_client.get(path.format(id=instance.instance_id))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_errors_are_not_stored_either(api: APIClient) -> None:
    response = api.get("/instances", {"access_token": "wzp_nope"})
    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"
