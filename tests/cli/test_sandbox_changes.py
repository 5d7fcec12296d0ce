"""manage.py sandbox_group_update and sandbox_contact_update (cli/sandbox_phone.py): a
simulated contact changes a group or its picture."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from instances.models import Instance, SandboxIncoming, SandboxPhone
from instances.service import create_instance

pytestmark = pytest.mark.django_db
GROUP = "120363000000000001@g.us"


def run(command: str, *args: str) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def linked(instance: Instance) -> Instance:
    SandboxPhone.objects.update_or_create(
        instance=instance, defaults={"linked_jid": "628111:3@s.whatsapp.net"}
    )
    return instance


def test_a_group_change_is_queued_with_every_participant_named(linked: Instance) -> None:
    out = run(
        "sandbox_group_update",
        linked.instance_id,
        "--group",
        GROUP,
        "--by",
        "628222000111",
        "--name",
        "Tim",
        "--description",
        "",
        "--locked",
        "on",
        "--add",
        "628333000111",
        "--add",
        "628444000111",
        "--demote",
        "628222000111",
        "--json",
    )
    assert json.loads(out)["kind"] == "group_update"
    update = SandboxIncoming.objects.get().message
    assert (update["by"], update["changes"]) == (
        "628222000111",
        {"name": "Tim", "description": "", "locked": True},
    )
    assert update["participants"] == {"added": ["628333000111", "628444000111"], "demoted": ["628222000111"]}


def test_the_line_for_people_says_when_it_arrives(linked: Instance) -> None:
    out = run("sandbox_group_update", linked.instance_id, "--group", GROUP, "--announce", "off")
    assert "once the instance connects" in out


def test_a_picture_change_is_queued(linked: Instance) -> None:
    run(
        "sandbox_contact_update",
        linked.instance_id,
        "--from",
        "628222000111",
        "--picture",
        "removed",
        "--lid",
    )
    update = SandboxIncoming.objects.get().message
    assert (update["kind"], update["from"], update["picture"], update["lid"]) == (
        "contact_update",
        "628222000111",
        "removed",
        True,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("sandbox_group_update", "--group", "nope", "--name", "Tim"), "group:"),
        (("sandbox_group_update", "--group", GROUP), "Nothing changes"),
        (("sandbox_contact_update", "--from", "12"), "from:"),
    ],
)
def test_bad_fields_are_named(linked: Instance, args: tuple[str, ...], says: str) -> None:
    command, *rest = args
    with pytest.raises(CommandError, match=says):
        run(command, linked.instance_id, *rest)


def test_an_unknown_instance_or_one_without_a_linked_account_is_an_error(instance: Instance) -> None:
    with pytest.raises(CommandError, match="Unknown instance id"):
        run("sandbox_contact_update", "0123456789ABC", "--from", "628222000111")
    with pytest.raises(CommandError, match="no linked account"):
        run("sandbox_contact_update", instance.instance_id, "--from", "628222000111")


def test_a_real_instance_has_no_simulated_contacts(owner: Any) -> None:
    real = create_instance(owner, transport="neonize")
    with pytest.raises(CommandError, match="Only sandbox instances"):
        run("sandbox_group_update", real.instance_id, "--group", GROUP, "--name", "Tim")
