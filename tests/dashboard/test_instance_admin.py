"""An instance's admin page is its home: the status panel, the buttons for people who may change
it, the raw fields folded under "Advanced"; the buttons come back to the page they were pressed on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from breaker import service as breaker_service
from breaker.models import BreakerState
from dashboard import figures
from instances.actual_state import store_qr
from instances.events import emit_event
from instances.models import Instance, WorkerProcess
from instances.service import create_instance
from tests.support.auth_matrix import fast_password_hashing  # noqa: F401  (autouse fixture)
from tests.support.queue import queue_many, queue_message

pytestmark = pytest.mark.django_db
ACTIONS = ("reset-breaker", "start", "stop", "logout")


def change_url(instance: Instance) -> str:
    return f"/admin/instances/instance/{instance.pk}/change/"


def action_url(instance: Instance, action: str) -> str:
    return f"/admin/dashboard/instances/{instance.instance_id}/{action}/"


def trip_breaker(instance: Instance, failures: int | None = None) -> None:
    """Fail connects through breaker.service, as the worker would (the threshold trips it)."""
    for n in range(failures or settings.WAZIPER_BREAKER_THRESHOLD):
        breaker_service.record_failure(instance, "connect_failed", f"dial refused #{n}", now=timezone.now())


def held_by_a_worker(instance: Instance) -> None:
    now = timezone.now()
    WorkerProcess.objects.create(
        worker_id="w-home", hostname="gw1", pid=4242, capacity=10, started_at=now, heartbeat_at=now
    )
    Instance.objects.filter(pk=instance.pk).update(
        desired_state="running", worker_id="w-home", lease_expires_at=now + timedelta(seconds=30)
    )


@pytest.fixture
def viewer(django_user_model: Any) -> Any:
    """Staff who may look at instances but not change them."""
    user = django_user_model.objects.create_user(username="looker", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_instance"))
    return user


@pytest.fixture
def viewer_client(viewer: Any) -> Client:
    client = Client()
    client.force_login(viewer)
    return client


# --- the status panel --------------------------------------------------------------------------


def test_the_page_shows_the_breaker_with_its_failures_against_the_threshold(
    admin_client: Client, instance: Instance
) -> None:
    trip_breaker(instance)
    page = admin_client.get(change_url(instance)).content.decode()
    assert 'id="wz-breaker-state" class="wz-badge wz-breaker-open"' in page
    threshold = settings.WAZIPER_BREAKER_THRESHOLD
    assert f'<span id="wz-failures">{threshold}</span> of {threshold}' in page


def test_the_page_shows_the_linked_phone_the_desired_state_and_the_worker_holding_it(
    admin_client: Client, instance: Instance
) -> None:
    Instance.objects.filter(pk=instance.pk).update(
        status="connected", jid="6281234567890:12@s.whatsapp.net", push_name="Toko"
    )
    held_by_a_worker(instance)
    page = admin_client.get(change_url(instance)).content.decode()
    assert "+6281234567890 · Toko" in page
    assert '<dd id="wz-desired">Running</dd>' in page
    assert "gw1:4242" in page


def test_the_queue_depth_counts_queued_sending_and_uncertain_and_links_to_the_list(
    admin_client: Client, instance: Instance
) -> None:
    queue_many(instance, 3)
    queue_message(instance, status="sending")
    queue_message(instance, status="uncertain")
    queue_message(instance, status="sent")
    page = admin_client.get(change_url(instance)).content.decode()
    queued = f"?instance__id__exact={instance.pk}&amp;status__exact=queued"
    assert f'<a id="wz-queue-queued" href="/admin/queueing/queuedmessage/{queued}">3</a>' in page
    assert 'id="wz-queue-sending"' in page
    assert page.count('id="wz-queue-') == 4  # queued, sending, uncertain, and the whole list


def test_the_page_lists_the_last_ten_failures_newest_first(admin_client: Client, instance: Instance) -> None:
    trip_breaker(instance, failures=12)
    home = admin_client.get(change_url(instance)).context["home"]
    assert [f.detail for f in home.recent_failures] == [f"dial refused #{n}" for n in range(11, 1, -1)]


def test_the_page_lists_recent_events_without_showing_a_qr_code(
    admin_client: Client, instance: Instance
) -> None:
    now = timezone.now()
    store_qr(instance.pk, "2@secret-qr-payload", now + timedelta(seconds=60), now, instance.status)
    emit_event(instance, "status", {"status": "connecting", "detail": "dialling"}, now=now)
    page = admin_client.get(change_url(instance)).content.decode()
    assert "connecting · dialling" in page
    assert "new QR code" in page
    assert "secret-qr-payload" not in page


def test_a_breaker_that_never_failed_shows_closed_without_writing_a_row(
    admin_client: Client, instance: Instance
) -> None:
    page = admin_client.get(change_url(instance)).content.decode()
    assert 'class="wz-badge wz-breaker-closed">Closed<' in page
    assert not BreakerState.objects.filter(instance=instance).exists()


def test_the_page_costs_a_fixed_handful_of_queries_whatever_the_history(
    admin_client: Client, instance: Instance, django_assert_max_num_queries: Any
) -> None:
    trip_breaker(instance, failures=40)
    queue_many(instance, 30)
    held_by_a_worker(instance)
    for n in range(40):
        emit_event(instance, "status", {"status": "connecting", "detail": f"try {n}"}, now=timezone.now())
    admin_client.get(change_url(instance))  # the session and content types are cached after this
    # The admin's own four (session, user, the row, the owner choices) plus the panel's six.
    with django_assert_max_num_queries(10):
        admin_client.get(change_url(instance))


def test_the_panel_reads_six_queries_at_most(instance: Instance, django_assert_max_num_queries: Any) -> None:
    trip_breaker(instance)
    held_by_a_worker(instance)
    instance.refresh_from_db()
    with django_assert_max_num_queries(6):
        figures.instance_home(instance, timezone.now())


def test_the_add_page_has_no_status_panel(admin_client: Client) -> None:
    page = admin_client.get("/admin/instances/instance/add/").content.decode()
    assert 'id="wz-home"' not in page


# --- buttons and permissions -------------------------------------------------------------------


def test_people_who_may_change_get_the_action_buttons_coming_back_here(
    admin_client: Client, instance: Instance
) -> None:
    page = admin_client.get(change_url(instance)).content.decode()
    for action in ACTIONS:
        assert f'action="{action_url(instance, action)}"' in page
    assert f'name="next" value="{change_url(instance)}"' in page
    assert f'href="/admin/dashboard/instances/{instance.instance_id}/">Link phone</a>' in page


def test_staff_who_may_only_view_see_the_panel_but_no_buttons(
    viewer_client: Client, instance: Instance
) -> None:
    response = viewer_client.get(change_url(instance))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="wz-home"' in page
    assert 'data-action="reset-breaker"' not in page
    assert "Link phone</a>" in page  # looking at the QR page needs only the view permission


@pytest.mark.parametrize("action", ACTIONS)
def test_staff_who_may_only_view_are_refused_an_action(
    viewer_client: Client, instance: Instance, action: str
) -> None:
    assert viewer_client.post(action_url(instance, action), {"next": change_url(instance)}).status_code == 403


def test_reset_breaker_comes_back_to_the_instance_page_with_the_breaker_closed(
    admin_client: Client, instance: Instance
) -> None:
    trip_breaker(instance)
    response = admin_client.post(
        action_url(instance, "reset-breaker"), {"next": change_url(instance)}, follow=True
    )
    assert response.redirect_chain == [(change_url(instance), 302)]
    page = response.content.decode()
    assert f"Circuit breaker of {instance.instance_id} reset (was open)." in page
    assert 'class="wz-badge wz-breaker-closed"' in page


@pytest.mark.parametrize(
    "target", ["https://evil.example/admin/", "//evil.example/", "", "javascript:alert(1)"]
)
def test_an_action_ignores_a_next_that_is_not_this_site(
    admin_client: Client, instance: Instance, target: str
) -> None:
    response = admin_client.post(action_url(instance, "start"), {"next": target})
    assert response["Location"] == f"/admin/dashboard/instances/{instance.instance_id}/"


# --- the raw fields ----------------------------------------------------------------------------


def fieldsets(client: Client, path: str) -> dict[str | None, tuple[list[str], list[str]]]:
    """Each fieldset's name → (its classes, the fields in it)."""
    adminform = client.get(path).context["adminform"]
    out: dict[str | None, tuple[list[str], list[str]]] = {}
    for fieldset in adminform:
        names = [name for line in fieldset.fields for name in ([line] if isinstance(line, str) else line)]
        out[fieldset.name] = (fieldset.classes.split(), names)
    return out


def test_the_raw_fields_are_folded_under_advanced(admin_client: Client, instance: Instance) -> None:
    sets = fieldsets(admin_client, change_url(instance))
    assert sets[None][1] == ["name", "owner", "transport", "proxy_url"]
    classes, advanced = sets["Advanced"]
    assert "collapse" in classes
    for raw in ("sandbox", "desired_state", "worker_id", "lease_expires_at", "next_attempt_at", "created_at"):
        assert raw in advanced


def test_advanced_is_a_closed_details_element(admin_client: Client, instance: Instance) -> None:
    page = admin_client.get(change_url(instance)).content.decode()
    assert "<details" in page
    assert "<details open" not in page


def test_the_add_page_folds_only_editable_fields(admin_client: Client) -> None:
    sets = fieldsets(admin_client, "/admin/instances/instance/add/")
    assert sets["Advanced"][1] == [
        "sandbox",
        "desired_state",
        "send_delay_min",
        "send_delay_max",
        "typing_min_s",
        "typing_max_s",
    ]


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_status_detail_under_the_badge_and_failures_under_the_breaker(
    admin_client: Client, instance: Instance
) -> None:
    trip_breaker(instance)
    Instance.objects.filter(pk=instance.pk).update(status="breaker_open", status_detail="open after 15")
    page = admin_client.get("/admin/instances/instance/").content.decode()
    assert 'title="circuit breaker open">breaker open</span>' in page
    assert '<span class="wz-sub" title="open after 15">open after 15</span>' in page
    threshold = settings.WAZIPER_BREAKER_THRESHOLD
    assert f">{threshold} failures</span>" in page


def test_the_list_shows_name_and_transport_under_the_instance_id(admin_client: Client, owner: Any) -> None:
    created = create_instance(owner, name="front desk", transport="sandbox")
    page = admin_client.get("/admin/instances/instance/").content.decode()
    assert f'{created.instance_id}<span class="wz-sub">front desk · sandbox</span>' in page
