"""GET /get_qrcode: resets an open breaker, starts the session, waits for a QR code."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from breaker.models import BreakerReset, BreakerState
from instances.models import Instance, InstanceCommand
from instances.service import create_instance, request_running
from tests.support.auth_matrix import assert_auth_outcome, auth_matrix, call_as
from tests.support.worker import SteppedWorker
from tests.support.worker_sim import QR_CODE, FakeWait, link, show_qr, trip_breaker

pytestmark = pytest.mark.django_db
URL = "/get_qrcode"
NO_QR = "Unable to create session. Please try again in a few minutes."


def _get(client: APIClient, instance: Instance, **params: Any) -> Any:
    return client.get(URL, {"instance_id": instance.instance_id, **params})


def test_it_returns_a_shown_qr_code_at_once(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait
) -> None:
    expires_at = show_qr(instance)
    response = _get(owner_client, instance)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "message", "base64", "qr", "expires_at"}
    assert body["status"] == "success"
    assert body["message"] == "Success"
    assert body["qr"] == QR_CODE
    assert body["expires_at"] == expires_at.isoformat()
    assert body["base64"].startswith("data:image/png;base64,")
    png = base64.b64decode(body["base64"].removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert fake_wait.sleeps == 0


def test_it_starts_the_session_and_returns_the_workers_qr_code(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    worker.run_while_waiting(fake_wait)
    response = _get(owner_client, instance, wait=5)
    assert response.status_code == 200
    instance.refresh_from_db()
    assert (instance.desired_state, instance.status) == ("running", "qr_pending")
    assert response.json()["qr"] == instance.last_qr
    assert response.json()["expires_at"] == instance.qr_expires_at.isoformat()
    assert fake_wait.sleeps == 1


def test_it_restarts_an_instance_parked_after_its_qr_expired(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    Instance.objects.filter(pk=instance.pk).update(status="qr_expired", last_qr="old", qr_expires_at=None)
    worker.run_while_waiting(fake_wait)
    body = _get(owner_client, instance).json()
    assert body["status"] == "success"
    assert body["qr"] not in ("", "old")


@pytest.mark.parametrize("forced", [False, True], ids=["open", "forced_open"])
def test_it_resets_an_open_breaker_as_a_qr_request(
    owner_client: APIClient,
    owner: Any,
    instance: Instance,
    fake_wait: FakeWait,
    worker: SteppedWorker,
    settings: Any,
    forced: bool,
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 3
    trip_breaker(instance, forced=forced)
    worker.run_while_waiting(fake_wait)
    assert _get(owner_client, instance).status_code == 200
    assert BreakerState.objects.get(pk=instance.pk).state == "closed"
    reset = BreakerReset.objects.get(instance=instance)
    assert reset.source == "qr_request"
    assert reset.user == owner
    assert reset.previous_state == ("forced_open" if forced else "open")


def test_a_closed_breaker_is_not_reset(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    worker.run_while_waiting(fake_wait)
    assert _get(owner_client, instance).status_code == 200
    assert not BreakerReset.objects.exists()


def test_the_worker_holding_a_tripped_instance_connects_at_once(
    owner_client: APIClient, owner: Any, fake_wait: FakeWait, worker: SteppedWorker, settings: Any
) -> None:
    # The worker waits out the breaker's 600 s cooldown; the QR request's reset sends it a
    # `reconnect` command, so the QR code comes within the request's wait.
    settings.WAZIPER_BREAKER_THRESHOLD = 1
    failing = create_instance(owner, transport="sandbox", sandbox={"connect": "fail"})
    request_running(failing)
    worker.tick()
    worker.tick(1)
    failing.refresh_from_db()
    assert failing.status == "breaker_open"
    assert worker.holds(failing.pk)
    Instance.objects.filter(pk=failing.pk).update(sandbox={})  # the network is back
    worker.run_while_waiting(fake_wait)
    response = _get(owner_client, failing, wait=3)
    assert response.status_code == 200
    assert InstanceCommand.objects.get(instance=failing).kind == "reconnect"


def test_it_is_503_in_the_seeds_words_when_no_qr_code_comes_in_time(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait
) -> None:
    response = _get(owner_client, instance, wait=2)
    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["message"] == NO_QR
    assert fake_wait.waited == pytest.approx(2)


def test_it_waits_ten_seconds_by_default(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait
) -> None:
    assert _get(owner_client, instance).status_code == 503
    assert fake_wait.waited == pytest.approx(10)


def test_an_expired_qr_code_is_not_shown(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait
) -> None:
    show_qr(instance, lifetime_s=-1)
    response = _get(owner_client, instance, wait=0)
    assert response.status_code == 503
    assert response.json()["message"] == NO_QR


def test_it_is_503_with_the_breaker_when_it_trips_again_while_waiting(
    owner_client: APIClient, owner: Any, fake_wait: FakeWait, worker: SteppedWorker, settings: Any
) -> None:
    settings.WAZIPER_BREAKER_THRESHOLD = 1
    failing = create_instance(owner, transport="sandbox", sandbox={"connect": "fail"})
    worker.run_while_waiting(fake_wait)
    response = _get(owner_client, failing, wait=1)
    assert response.status_code == 503
    assert response.json()["circuit_breaker"] is True
    assert int(response["Retry-After"]) > 0


def test_it_is_409_when_the_phone_is_already_linked(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait
) -> None:
    link(instance)
    response = _get(owner_client, instance)
    assert response.status_code == 409
    assert response.json() == {"status": "error", "message": "It seems that you have logged in successfully"}
    assert fake_wait.sleeps == 0


def test_it_is_409_when_the_phone_links_while_waiting(
    owner_client: APIClient, owner: Any, fake_wait: FakeWait, worker: SteppedWorker
) -> None:
    # auto_scan: the simulated phone scans the first QR code as soon as it is shown.
    scanning = create_instance(owner, transport="sandbox", sandbox={"auto_scan": True})
    worker.run_while_waiting(fake_wait)
    assert _get(owner_client, scanning).status_code == 409
    assert Instance.objects.get(pk=scanning.pk).status == "connected"


@pytest.mark.parametrize("wait", ["-1", "60.5", "abc", "nan", "inf", "1e999"])
def test_an_invalid_wait_is_400(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait, wait: str
) -> None:
    response = _get(owner_client, instance, wait=wait)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["wait"]
    assert fake_wait.sleeps == 0


def test_an_empty_wait_means_the_default(
    owner_client: APIClient, instance: Instance, fake_wait: FakeWait
) -> None:
    assert _get(owner_client, instance, wait="").status_code == 503
    assert fake_wait.waited == pytest.approx(10)


def test_it_requires_an_instance_id(owner_client: APIClient) -> None:
    assert owner_client.get(URL).json()["errors"] == {"instance_id": ["This field is required."]}


def test_it_only_allows_get(owner_client: APIClient, instance: Instance) -> None:
    assert owner_client.post(f"{URL}?instance_id={instance.instance_id}").status_code == 405


def test_it_validates_the_id(owner_client: APIClient) -> None:
    assert owner_client.get(URL, {"instance_id": "../../etc"}).status_code == 404


def test_it_handles_a_missing_instance(owner_client: APIClient) -> None:
    assert owner_client.get(URL, {"instance_id": "0123456789ABC"}).status_code == 404


@auth_matrix("GET", ok=200, action="change")
def test_auth_matrix(
    request: pytest.FixtureRequest, instance: Instance, who: str, where: str, expected: int
) -> None:
    show_qr(instance)
    response = call_as(request, who, where, "GET", URL, query={"instance_id": instance.instance_id})
    assert_auth_outcome(response, expected)


@pytest.mark.django_db(transaction=True)
def test_it_sees_a_qr_code_another_connection_writes_while_it_waits(
    owner_client: APIClient, instance: Instance
) -> None:
    # The real thing: another thread (its own database connection, like the worker process)
    # writes the QR code while the view polls with real sleeps.
    def worker() -> None:
        time.sleep(0.3)
        show_qr(instance)
        connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    started = time.monotonic()
    response = _get(owner_client, instance, wait=5)
    thread.join()
    assert response.status_code == 200
    assert response.json()["qr"] == QR_CODE
    assert 0.3 <= time.monotonic() - started < 2


def test_first_use_creates_the_named_instance_and_shows_its_qr_code(
    owner_client: APIClient, owner: Any, fake_wait: FakeWait, worker: SteppedWorker, settings: Any
) -> None:
    settings.WAZIPER_CREATE_INSTANCE_ON_FIRST_USE = True
    settings.WAZIPER_DEFAULT_TRANSPORT = "sandbox"
    worker.run_while_waiting(fake_wait)
    response = owner_client.get(URL, {"instance_id": "664461B63FB8A", "wait": 5})
    assert response.status_code == 200
    assert response.json()["base64"].startswith("data:image/png;base64,")
    assert Instance.objects.get(instance_id="664461B63FB8A").owner == owner


def test_without_first_use_an_unknown_id_is_invalidated(owner_client: APIClient) -> None:
    response = owner_client.get(URL, {"instance_id": "664461B63FB8A"})
    assert response.status_code == 404
    assert response.json()["message"] == "The Instance ID provided has been invalidated"
    assert not Instance.objects.exists()
