"""The dashboard inside the admin: Link phone page, its buttons, the list, health, the JSON fallback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from breaker import service as breaker_service
from breaker.models import BreakerReset, BreakerState, FailureEvent
from dashboard import charts, figures
from instances.actual_state import store_qr
from instances.models import Instance, InstanceCommand, SandboxPhone
from instances.qr import qr_data_uri
from instances.service import create_instance
from tests.support.auth_matrix import (  # noqa: F401  (fast_password_hashing: an autouse fixture)
    fast_password_hashing,
    staff_with,
    user_for,
)
from tests.support.queue import queue_message

pytestmark = pytest.mark.django_db
QR = "2@dashboard,noise,identity,secret"


@pytest.fixture
def staff_client(admin_client: Client) -> Client:
    """A superuser: staff with every permission (pytest-django's admin_client)."""
    return admin_client


def url(instance: Instance, action: str = "") -> str:
    return f"/admin/dashboard/instances/{instance.instance_id}/" + (f"{action}/" if action else "")


def hold(instance: Instance) -> None:
    """As if a live worker held the instance (so a reconnect command would be taken)."""
    Instance.objects.filter(pk=instance.pk).update(
        desired_state="running",
        status="breaker_open",
        worker_id="w1",
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )


def trip_breaker(instance: Instance) -> None:
    """Fail connects through breaker.service until the breaker opens, as the worker would."""
    for _ in range(settings.WAZIPER_BREAKER_THRESHOLD):
        breaker_service.record_failure(instance, "connect_failed", "dial refused", now=timezone.now())


def show_qr(instance: Instance) -> None:
    now = timezone.now()
    store_qr(instance.pk, QR, now + timedelta(seconds=60), now, instance.status)


# --- who may see the pages ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/dashboard/", "LINK"])
def test_pages_send_anyone_but_staff_to_the_admin_login(path: str, instance: Instance, owner: Any) -> None:
    client = Client()
    client.force_login(owner)  # the owner, but not staff
    response = client.get(url(instance) if path == "LINK" else path)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_permissions_may_neither_look_nor_press(instance: Instance, staff: Any) -> None:
    client = Client()
    client.force_login(staff)
    assert client.get(url(instance)).status_code == 403
    assert client.post(url(instance, "reset-breaker")).status_code == 403


def test_owning_an_instance_gives_no_rights_on_the_operators_pages(staff: Any) -> None:
    # Tenants reach their own instances through the API, the websocket and live.json.
    own = create_instance(staff, name="staff's own", transport="sandbox")
    client = Client()
    client.force_login(staff)
    assert client.get(url(own)).status_code == 403
    assert client.post(url(own, "start")).status_code == 403


def test_the_view_permission_shows_the_page_but_presses_no_button(instance: Instance) -> None:
    client = Client()
    client.force_login(staff_with("viewer", "view_instance"))
    assert client.get(url(instance)).status_code == 200
    assert client.post(url(instance, "start")).status_code == 403
    assert client.post(url(instance, "pair"), {"phone": "6281234567890"}).status_code == 403
    instance.refresh_from_db()
    assert instance.desired_state == "stopped"


def test_buttons_refuse_a_get(staff_client: Client, instance: Instance) -> None:
    assert staff_client.get(url(instance, "start")).status_code == 405


# --- the Link phone page -----------------------------------------------------------------------


def test_link_phone_shows_the_shown_qr_and_where_the_live_updates_come_from(
    staff_client: Client, instance: Instance
) -> None:
    show_qr(instance)
    page = staff_client.get(url(instance)).content.decode()
    assert qr_data_uri(QR) in page
    assert f'data-ws-path="/ws/instances/{instance.instance_id}/"' in page
    assert 'id="wz-snapshot"' in page
    assert "Simulate scan" in page
    assert "waiting for QR scan" in page


def test_link_phone_has_no_simulate_scan_for_a_real_phone(staff_client: Client, owner: Any) -> None:
    real = create_instance(owner, name="real", transport="neonize")
    assert "Simulate scan" not in staff_client.get(url(real)).content.decode()


def test_an_unknown_instance_is_404(staff_client: Client) -> None:
    assert staff_client.get("/admin/dashboard/instances/0000000000000/").status_code == 404


def test_reset_records_an_admin_reset_and_asks_the_worker_to_reconnect_now(
    staff_client: Client, instance: Instance, admin_user: Any
) -> None:
    trip_breaker(instance)
    hold(instance)
    response = staff_client.post(url(instance, "reset-breaker"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert BreakerState.objects.get(instance=instance).state == "closed"
    reset = BreakerReset.objects.get(instance=instance)
    assert (reset.source, reset.actor, reset.previous_state) == ("admin", admin_user.username, "open")
    assert InstanceCommand.objects.filter(instance=instance, kind="reconnect").exists()


def test_a_button_without_javascript_redirects_back_with_a_message(
    staff_client: Client, instance: Instance
) -> None:
    response = staff_client.post(url(instance, "start"), follow=True)
    assert response.redirect_chain[-1][0] == url(instance)
    assert f"{instance.instance_id}: starting." in response.content.decode()
    instance.refresh_from_db()
    assert instance.desired_state == "running"


def test_stop_and_logout_go_through_the_instance_service(staff_client: Client, instance: Instance) -> None:
    Instance.objects.filter(pk=instance.pk).update(desired_state="running", status="connected", jid="62811@s")
    staff_client.post(url(instance, "stop"))
    instance.refresh_from_db()
    assert instance.desired_state == "stopped"
    staff_client.post(url(instance, "logout"))
    instance.refresh_from_db()
    assert (instance.status, instance.jid) == ("logged_out", "")


def test_simulate_scan_asks_the_sandbox_phone_and_is_refused_for_real_phones(
    staff_client: Client, instance: Instance, owner: Any
) -> None:
    assert staff_client.post(url(instance, "scan")).status_code == 302
    assert SandboxPhone.objects.get(instance=instance).scan_requested_at is not None
    real = create_instance(owner, name="real", transport="neonize")
    response = staff_client.post(url(real, "scan"), HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert "sandbox" in response.json()["message"]


def test_pairing_sends_the_number_to_the_worker_and_shows_its_code(
    staff_client: Client, instance: Instance, monkeypatch: Any
) -> None:
    show_qr(instance)
    # The worker's answer comes while the view waits.
    monkeypatch.setattr(
        "kernel.waiting.sleep",
        lambda seconds: InstanceCommand.objects.filter(kind="pair_phone").update(
            finished_at=timezone.now(), result={"code": "ABCD-EFGH"}
        ),
    )
    response = staff_client.post(
        url(instance, "pair"), {"phone": "+62 812-3456-7890"}, HTTP_ACCEPT="application/json"
    )
    assert response.json() == {"status": "success", "message": "Pairing code: ABCD-EFGH", "code": "ABCD-EFGH"}
    assert InstanceCommand.objects.get(kind="pair_phone").payload == {"phone": "6281234567890"}


@pytest.mark.parametrize(("phone", "status"), [("12ab", "qr_pending"), ("6281234567890", "stopped")])
def test_pairing_needs_a_phone_number_and_a_shown_qr(
    staff_client: Client, instance: Instance, phone: str, status: str
) -> None:
    if status == "qr_pending":
        show_qr(instance)
    response = staff_client.post(url(instance, "pair"), {"phone": phone}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert not InstanceCommand.objects.exists()


# --- the JSON snapshot (the page's fallback when websockets fail) ------------------------------


def test_live_json_gives_the_snapshot_and_the_events_after_since(instance: Instance, owner: Any) -> None:
    client = Client()
    client.force_login(owner)
    since = instance.events.count()
    show_qr(instance)
    body = client.get(url(instance) + f"live.json?since={since}").json()
    assert body["snapshot"]["base64"] == qr_data_uri(QR)
    assert [e["type"] for e in body["events"]] == ["status", "qr"]
    assert body["snapshot"]["last_event_id"] == body["events"][-1]["id"]


@pytest.mark.parametrize("since", ["%C2%B2", "9" * 5000, "-1", "1e3"])
def test_live_json_ignores_a_since_that_is_not_an_event_id(
    instance: Instance, owner_token: str, since: str
) -> None:
    # "²".isdigit() is True but int("²") fails, as does int() of over 4,300 digits.
    response = Client().get(url(instance) + f"live.json?access_token={owner_token}&since={since}")
    assert response.status_code == 200
    assert response.json()["events"] == []


def test_live_json_refuses_like_the_websocket(instance: Instance, stranger: Any, owner_token: str) -> None:
    assert Client().get(url(instance) + "live.json").status_code == 401
    client = Client()
    client.force_login(stranger)
    assert client.get(url(instance) + "live.json").status_code == 404
    assert Client().get(url(instance) + f"live.json?access_token={owner_token}").status_code == 200


def test_live_json_shows_staff_without_permissions_nothing_of_others(
    instance: Instance, staff: Any, staff_token: str
) -> None:
    show_qr(instance)
    client = Client()
    client.force_login(staff)
    by_session = client.get(url(instance) + "live.json")
    by_token = Client().get(url(instance) + f"live.json?access_token={staff_token}")
    assert (by_session.status_code, by_token.status_code) == (404, 404)
    assert QR not in by_session.content.decode() + by_token.content.decode()


def test_live_json_refuses_an_address_that_keeps_sending_bad_tokens(
    instance: Instance, owner_token: str, settings: Any
) -> None:
    settings.WAZIPER_AUTH_FAILURE_RATE = "3/min"
    statuses = [Client().get(url(instance) + f"live.json?access_token=wzp_{i}").status_code for i in range(3)]
    locked = Client().get(url(instance) + f"live.json?access_token={owner_token}")
    assert statuses == [401, 401, 401]
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 20


@pytest.mark.parametrize("who", ["viewer", "superuser"])
def test_live_json_shows_the_view_permission_and_superusers_the_qr(
    request: pytest.FixtureRequest, instance: Instance, who: str
) -> None:
    show_qr(instance)
    client = Client()
    client.force_login(user_for(request, who))
    response = client.get(url(instance) + "live.json")
    assert response.status_code == 200
    assert response.json()["snapshot"]["qr"] == QR


# --- the instance list -------------------------------------------------------------------------


def test_the_list_shows_breaker_failures_queue_depth_and_last_failure(
    staff_client: Client, instance: Instance
) -> None:
    trip_breaker(instance)
    for _ in range(3):
        queue_message(instance)
    page = staff_client.get("/admin/instances/instance/").content.decode()
    assert 'wz-breaker-open">open<' in page
    assert ">15 failures</span>" in page
    assert f'?instance__id__exact={instance.pk}" title="queued and sending messages">3</a>' in page
    assert "15 failures in the breaker&#x27;s window; last: connect_failed, " in page
    assert url(instance) in page


def test_the_list_costs_the_same_queries_for_one_or_many_instances(staff_client: Client, owner: Any) -> None:
    create_instance(owner, name="first", transport="sandbox")
    staff_client.get("/admin/instances/instance/")
    with CaptureQueriesContext(connection) as one:
        staff_client.get("/admin/instances/instance/")
    for n in range(5):
        trip_breaker(create_instance(owner, name=f"n{n}", transport="sandbox"))
    with CaptureQueriesContext(connection) as many:
        staff_client.get("/admin/instances/instance/")
    assert len(many) == len(one)


def test_list_actions_reset_start_and_stop(staff_client: Client, instance: Instance) -> None:
    trip_breaker(instance)
    changelist = "/admin/instances/instance/"
    for action in ("reset_breakers", "start_instances"):
        staff_client.post(changelist, {"action": action, "_selected_action": [instance.pk]})
    instance.refresh_from_db()
    assert instance.desired_state == "running"
    assert BreakerReset.objects.get(instance=instance).source == "admin"
    staff_client.post(changelist, {"action": "stop_instances", "_selected_action": [instance.pk]})
    instance.refresh_from_db()
    assert instance.desired_state == "stopped"


def test_adding_an_instance_in_the_admin_goes_through_the_service(staff_client: Client, owner: Any) -> None:
    form = {"name": "desk", "owner": owner.pk, "transport": "sandbox", "desired_state": "stopped"}
    form |= {"sandbox": "{}", "proxy_url": ""}
    response = staff_client.post("/admin/instances/instance/add/", form)
    assert response.status_code == 302
    created = Instance.objects.get(name="desk")
    assert SandboxPhone.objects.filter(instance=created).exists()


# --- health page, figures and charts -----------------------------------------------------------


def test_health_page_shows_the_health_figures_and_two_svg_charts(
    staff_client: Client, instance: Instance
) -> None:
    trip_breaker(instance)
    page = staff_client.get("/admin/dashboard/?hours=1").content.decode()
    assert page.count('class="wz-chart"') == 2
    assert "Failures per instance, last 1 h" in page
    assert 'id="wz-health-score"' in page
    assert "no live worker" in page
    assert f"shop ({instance.instance_id}): 15 at" in page


def test_failures_are_bucketed_per_instance_with_the_rest_as_others(owner: Any) -> None:
    now = timezone.now()
    instances = [create_instance(owner, name=f"i{n}", transport="sandbox") for n in range(3)]
    for n, instance in enumerate(instances):
        for _ in range(n + 1):
            FailureEvent.objects.create(
                instance=instance, kind="connect_failed", at=now - timedelta(minutes=90)
            )
    series = figures.failures_per_instance(figures.Buckets(end=now, hours=2, count=4), top=2)
    assert [label.split(" ")[0] for label, _ in series] == ["i2", "i1", "others"]
    assert [values for _, values in series] == [[0, 3, 0, 0], [0, 2, 0, 0], [0, 1, 0, 0]]


def test_throughput_counts_sent_and_failed_messages_per_slice(instance: Instance) -> None:
    now = timezone.now()
    queue_message(instance, status="sent", sent_at=now - timedelta(minutes=10))
    queue_message(instance, status="failed", failed_at=now - timedelta(minutes=50))
    series = dict(figures.queue_throughput(figures.Buckets(end=now, hours=1, count=2)))
    assert series == {"sent": [0, 1], "failed": [1, 0]}


def test_charts_round_the_axis_and_escape_labels() -> None:
    assert [charts.nice_max(v) for v in (0, 1, 3, 7, 12, 250)] == [1, 1, 5, 10, 20, 500]
    svg = charts.stacked_bars(["10:00", "11:00"], [("<b>x</b>", [1, 2])], title="t")
    assert "&lt;b&gt;x&lt;/b&gt;: 2 at 11:00" in svg
    assert "<b>" not in svg
    assert svg.count("<rect") == 3  # two bars and the legend's swatch


def test_health_page_shows_the_webhook_backlog_per_endpoint(staff_client: Client, instance: Instance) -> None:
    from instances.events import emit_event
    from webhooks import service

    endpoint, _ = service.create_endpoint(
        instance.owner, url="https://93.184.215.14/slow-hook", instance=instance
    )
    for n in range(3):
        emit_event(instance, "status", {"status": "connected", "detail": str(n)})
    page = staff_client.get("/admin/dashboard/").content.decode()
    assert 'id="wz-webhooks"' in page and "no live deliverer" in page
    assert "<dt>Backlog</dt><dd>3</dd>" in page
    assert f'/admin/webhooks/webhookendpoint/{endpoint.pk}/change/">{endpoint.pk}</a>' in page
