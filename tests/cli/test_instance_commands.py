from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from instances.models import AccessToken, Instance, SandboxPhone

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_token_creates_the_user_and_prints_a_working_token() -> None:
    output = run("create_token", "bob")
    raw = output.splitlines()[0]
    assert raw.startswith("wzp_")
    assert "shown once" in output
    token = AccessToken.objects.authenticate(raw)
    assert token is not None
    assert token.user.username == "bob"
    assert not token.user.has_usable_password()


def test_create_token_json_for_an_existing_user(owner: Any) -> None:
    data = json.loads(run("create_token", "alice", "--json", "--name", "crm"))
    assert data["user"] == "alice"
    assert data["user_created"] is False
    assert AccessToken.objects.authenticate(data["token"]).name == "crm"


def test_create_instance_prints_the_id(owner: Any) -> None:
    instance_id = run("create_instance", "--owner", "alice", "--transport", "sandbox").strip()
    instance = Instance.objects.get(instance_id=instance_id)
    assert instance.owner == owner
    assert instance.transport == "sandbox"
    assert instance.sandbox_phone is not None


def test_create_instance_json(owner: Any) -> None:
    data = json.loads(
        run(
            "create_instance",
            "--owner",
            "alice",
            "--name",
            "shop",
            "--transport",
            "sandbox",
            "--sandbox",
            '{"connect": "fail"}',
            "--json",
        )
    )
    assert data["sandbox"] == {"connect": "fail"}
    assert data["name"] == "shop"
    assert Instance.objects.get(instance_id=data["instance_id"]).sandbox == {"connect": "fail"}


def test_create_instance_defaults_to_neonize_with_a_proxy(owner: Any) -> None:
    data = json.loads(
        run("create_instance", "--owner", "alice", "--proxy", "socks5://127.0.0.1:1080", "--json")
    )
    assert data["transport"] == "neonize"
    assert data["proxy_url"] == "socks5://127.0.0.1:1080"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--transport", "telegram"], "Unknown transport 'telegram'"),
        (["--transport", "sandbox", "--sandbox", "{bad"], "--sandbox is not valid JSON"),
        (["--transport", "sandbox", "--sandbox", '{"connect": "explode"}'], "sandbox.connect must be one of"),
        (["--transport", "sandbox", "--sandbox", '["fail"]'], "must be a JSON object"),
        (["--proxy", "socks5://127.0.0.1"], "needs a host and a port"),
        (["--proxy", "gopher://x:70"], "scheme must be one of"),
        (["--sandbox", '{"connect": "fail"}'], "only to sandbox instances"),
    ],
)
def test_create_instance_refuses_bad_options_and_writes_nothing(
    owner: Any, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run("create_instance", "--owner", "alice", *args)
    assert Instance.objects.count() == 0


def test_create_instance_for_unknown_owner_is_an_error() -> None:
    with pytest.raises(CommandError, match="No user 'ghost'"):
        run("create_instance", "--owner", "ghost")


def test_ensure_admin_creates_one_superuser_once() -> None:
    data = json.loads(run("ensure_admin", "--json"))
    assert data["created"] is True
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser
    assert user.check_password(data["password"])
    assert json.loads(run("ensure_admin", "--json")) == {"created": False}
    assert run("ensure_admin") == ""


def test_health_command_json_matches_the_api_shape() -> None:
    data = json.loads(run("health", "--json"))
    assert data["message"] == "Server is running"
    assert "health_score" in data["data"]
    assert "health score" in run("health")


def test_sandbox_scan_records_the_phones_scan(instance: Instance) -> None:
    data = json.loads(run("sandbox_scan", instance.instance_id, "--json"))
    assert data == {"instance_id": instance.instance_id, "scan_requested": True}
    assert SandboxPhone.objects.get(instance=instance).scan_requested_at is not None


def test_sandbox_scan_refuses_a_real_instance(owner: Any) -> None:
    real = Instance.objects.create(owner=owner, transport="neonize")
    with pytest.raises(CommandError, match="Only sandbox instances"):
        run("sandbox_scan", real.instance_id)


def test_run_worker_refuses_a_capacity_below_one() -> None:
    with pytest.raises(CommandError, match="--capacity must be at least 1"):
        run("run_worker", "--capacity", "0")


def test_create_instance_past_the_owners_limit_is_an_error(owner: Any, settings: Any) -> None:
    settings.WAZIPER_MAX_INSTANCES_PER_OWNER = 1
    run("create_instance", "--owner", "alice", "--transport", "sandbox")
    with pytest.raises(CommandError, match=r"Instance limit reached.*WAZIPER_MAX_INSTANCES_PER_OWNER=1"):
        run("create_instance", "--owner", "alice", "--transport", "sandbox")
    assert Instance.objects.count() == 1
