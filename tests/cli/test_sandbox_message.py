"""manage.py sandbox_message: a simulated contact sends a sandbox instance a message."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from instances.models import Instance, SandboxIncoming, SandboxPhone
from instances.service import create_instance

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("sandbox_message", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def linked(instance: Instance) -> Instance:
    SandboxPhone.objects.update_or_create(
        instance=instance, defaults={"linked_jid": "628111:3@s.whatsapp.net"}
    )
    return instance


def test_a_text_is_queued_for_the_instance_and_described_in_json(linked: Instance) -> None:
    data = json.loads(run(linked.instance_id, "--from", "628222000111", "--text", "halo", "--json"))
    sent = SandboxIncoming.objects.get()
    assert data == {
        "instance_id": linked.instance_id,
        "wa_message_id": sent.wa_message_id,
        "kind": "text",
        "connected": False,
    }
    assert (sent.message["from"], sent.message["text"]) == ("628222000111", "halo")


def test_the_line_for_people_says_when_it_arrives(linked: Instance) -> None:
    line = run(linked.instance_id.lower(), "--from", "+628222000111", "--text", "halo")
    assert "once the instance connects" in line


def test_a_file_is_sent_as_media_named_and_typed_after_it(linked: Instance, tmp_path: Path) -> None:
    pdf = tmp_path / "tagihan.pdf"
    pdf.write_bytes(b"%PDF-1.4 tiny")
    run(
        linked.instance_id,
        "--from",
        "628222000111",
        "--kind",
        "document",
        "--file",
        str(pdf),
        "--caption",
        "ini",
    )
    sent = SandboxIncoming.objects.get()
    assert bytes(sent.media) == b"%PDF-1.4 tiny"
    assert (sent.message["filename"], sent.message["mimetype"], sent.message["text"]) == (
        "tagihan.pdf",
        "application/pdf",
        "ini",
    )


def test_a_poll_takes_its_options_one_by_one(linked: Instance) -> None:
    run(
        linked.instance_id,
        "--from",
        "628222000111",
        "--kind",
        "poll",
        "--question",
        "Kapan?",
        "--option",
        "Senin",
        "--option",
        "Selasa",
    )
    assert SandboxIncoming.objects.get().message["options"] == ["Senin", "Selasa"]


def test_a_reaction_names_its_target(linked: Instance) -> None:
    run(
        linked.instance_id,
        "--from",
        "628222000111",
        "--kind",
        "reaction",
        "--emoji",
        "👍",
        "--target",
        "3EB0AA",
    )
    message = SandboxIncoming.objects.get().message
    assert (message["text"], message["target_message_id"]) == ("👍", "3EB0AA")


def test_bad_fields_are_named(linked: Instance) -> None:
    with pytest.raises(CommandError, match=r"from: Must be a phone number.*latitude: This field is required"):
        run(linked.instance_id, "--from", "12", "--kind", "location", "--longitude", "1")


def test_an_unknown_instance_or_a_missing_file_is_an_error(linked: Instance, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Unknown instance id"):
        run("0123456789ABC", "--from", "628222000111", "--text", "x")
    with pytest.raises(CommandError, match="--file: cannot read"):
        run(
            linked.instance_id,
            "--from",
            "628222000111",
            "--kind",
            "image",
            "--file",
            str(tmp_path / "nope.jpg"),
        )


def test_an_instance_without_a_linked_account_is_an_error(instance: Instance) -> None:
    with pytest.raises(CommandError, match="no linked account"):
        run(instance.instance_id, "--from", "628222000111", "--text", "x")


def test_a_real_instance_has_no_simulated_contacts(owner: Any) -> None:
    real = create_instance(owner, transport="neonize")
    with pytest.raises(CommandError, match="Only sandbox instances"):
        run(real.instance_id, "--from", "628222000111", "--text", "x")
