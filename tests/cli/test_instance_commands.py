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


def test_create_token_imports_a_waziper_team_token_and_keeps_only_its_hash(owner: Any) -> None:
    output = run("create_token", "alice", "--token", "649ba622aa900")
    assert "649ba622aa900" not in output
    token = AccessToken.objects.authenticate("649ba622aa900")
    assert token is not None
    assert token.user == owner
    assert "649ba622aa900" not in token.key_hash


def test_an_imported_short_token_shows_at_most_a_third_of_itself(owner: Any) -> None:
    data = json.loads(run("create_token", "alice", "--token", "649ba622aa900", "--json"))
    assert data == {"user": "alice", "prefix": "649b", "user_created": False, "imported": True}


def test_create_token_reads_the_token_from_stdin(owner: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.stdin", StringIO("649ba622aa900\n"))
    run("create_token", "alice", "--token", "-")
    assert AccessToken.objects.authenticate("649ba622aa900") is not None


@pytest.mark.parametrize("bad", ["short", "has a space in it", "x" * 201, "ünïcödé-token-value"])
def test_create_token_refuses_a_malformed_token(owner: Any, bad: str) -> None:
    with pytest.raises(CommandError, match="--token"):
        run("create_token", "alice", "--token", bad)
    assert not AccessToken.objects.exists()


def test_create_token_refuses_a_token_in_use(owner: Any, stranger: Any) -> None:
    run("create_token", "mallory", "--token", "649ba622aa900")
    with pytest.raises(CommandError, match="in use"):
        run("create_token", "alice", "--token", "649ba622aa900")
    assert AccessToken.objects.get().user == stranger


def test_create_instance_takes_a_waziper_instance_id(owner: Any) -> None:
    assert (
        run("create_instance", "--owner", "alice", "--instance-id", "664461b63fb8a").strip()
        == "664461B63FB8A"
    )
    assert Instance.objects.get(instance_id="664461B63FB8A").owner == owner


@pytest.mark.parametrize("bad", ["QR_TEST_1", "664461B63FB8"])
def test_create_instance_refuses_a_malformed_instance_id(owner: Any, bad: str) -> None:
    with pytest.raises(CommandError, match="instance_id"):
        run("create_instance", "--owner", "alice", "--instance-id", bad)


def test_create_instance_refuses_an_instance_id_in_use(owner: Any) -> None:
    run("create_instance", "--owner", "alice", "--instance-id", "664461B63FB8A")
    with pytest.raises(CommandError, match="taken"):
        run("create_instance", "--owner", "alice", "--instance-id", "664461B63FB8A")
