"""The instance form in the admin refuses what the API refuses, naming the field (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from instances.models import Instance
from tests.support.auth_matrix import fast_password_hashing  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.django_db
ADD = "/admin/instances/instance/add/"


def form(owner: Any, **fields: Any) -> dict[str, Any]:
    base = {"name": "desk", "owner": owner.pk, "transport": "sandbox", "desired_state": "stopped"}
    return base | {"sandbox": "{}", "proxy_url": ""} | fields


def field_errors(response: Any) -> set[str]:
    assert response.status_code == 200, response.status_code  # the form again, not a redirect
    return set(response.context["adminform"].form.errors)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"proxy_url": "ftp://host:21"}, "proxy_url"),
        ({"proxy_url": "socks5://[::1:1080"}, "proxy_url"),
        ({"sandbox": '{"connect": "explode"}'}, "sandbox"),
        ({"transport": "neonize", "sandbox": '{"connect": "fail"}'}, "sandbox"),
        ({"name": "bell\x07"}, "name"),
        ({"send_delay_max": "1e300"}, "send_delay_max"),  # timedelta overflows in the worker
        ({"send_delay_min": "5", "send_delay_max": "1"}, "send_delay_max"),
        ({"typing_min_s": "11"}, "typing_min_s"),
        ({"typing_min_s": "3", "typing_max_s": "2"}, "typing_max_s"),
    ],
)
def test_adding_refuses_bad_fields_naming_them(
    admin_client: Client, owner: Any, fields: dict, field: str
) -> None:
    assert field_errors(admin_client.post(ADD, form(owner, **fields))) == {field}
    assert not Instance.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"proxy_url": "ftp://host:21"}, "proxy_url"),
        ({"sandbox": '{"connect": "explode"}'}, "sandbox"),
        ({"send_delay_max": "-1"}, "send_delay_max"),
        ({"typing_max_s": "-1"}, "typing_max_s"),
    ],
)
def test_changing_refuses_bad_fields_and_keeps_the_row(
    admin_client: Client, instance: Instance, fields: dict, field: str
) -> None:
    url = f"/admin/instances/instance/{instance.pk}/change/"
    assert field_errors(admin_client.post(url, form(instance.owner, **fields))) == {field}
    instance.refresh_from_db()
    assert (instance.name, instance.proxy_url, instance.sandbox) == ("shop", "", {})


def test_a_good_change_is_saved_normalised(admin_client: Client, instance: Instance) -> None:
    url = f"/admin/instances/instance/{instance.pk}/change/"
    fields = {"name": "  front desk ", "sandbox": '{"connect": "fail"}', "send_delay_min": "0"}
    response = admin_client.post(url, form(instance.owner, **fields))
    assert response.status_code == 302
    instance.refresh_from_db()
    assert (instance.name, instance.sandbox, instance.send_delay_min) == (
        "front desk",
        {"connect": "fail"},
        0,
    )


def test_the_instances_typing_range_is_saved(admin_client: Client, instance: Instance) -> None:
    url = f"/admin/instances/instance/{instance.pk}/change/"
    response = admin_client.post(url, form(instance.owner, typing_min_s="1.5", typing_max_s="4"))
    assert response.status_code == 302
    instance.refresh_from_db()
    assert (instance.typing_min_s, instance.typing_max_s) == (1.5, 4.0)


def test_adding_past_the_owners_instance_limit_names_the_owner_field(
    admin_client: Client, instance: Instance, settings: Any
) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 1
    response = admin_client.post(ADD, form(instance.owner))
    assert field_errors(response) == {"owner"}
    assert "WAZIPER_MAX_INSTANCES_PER_OWNER=1" in str(response.context["adminform"].form.errors["owner"])
    assert Instance.objects.count() == 1
