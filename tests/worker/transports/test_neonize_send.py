"""What the neonize transport writes to its session host for each kind of message: one SEND
line the host's protocol accepts, carrying the kind's fields, the message acted on or quoted,
mentions, typing and WhatsApp's window. No host process: the line is caught at the pipe."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from worker.sessionhost import protocol as p
from worker.transports.base import OutgoingMessage, SessionSpec
from worker.transports.neonize import NeonizeSession, NeonizeTransport

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TARGET = {"wa_message_id": "3EB0AAAA1111", "chat_id": "6281234567890", "from_me": True, "sender": ""}


class Pipe:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def write(self, line: bytes) -> bool:
        self.lines.append(json.loads(line))
        return True


def session_with_pipe(tmp_path: Path) -> tuple[NeonizeSession, Pipe]:
    session = NeonizeTransport(sessions_per_host=1).open_session(
        SessionSpec(1, "ABCDEF0123456", "", str(tmp_path / "store"))
    )
    pipe = Pipe()
    session.host = SimpleNamespace(process=pipe)  # type: ignore[assignment]  # a host, as far as sends go
    return session, pipe


def sent_line(tmp_path: Path, message: OutgoingMessage) -> dict[str, Any]:
    session, pipe = session_with_pipe(tmp_path)
    session.send(message, NOW)
    assert session.events == []  # nothing refused on our side
    (line,) = pipe.lines
    p.validate_command(line)  # and the host's side accepts it
    return line


def test_a_location_carries_its_fields(tmp_path: Path) -> None:
    fields = {"latitude": -6.2, "longitude": 106.8, "name": "Monas", "address": ""}
    line = sent_line(tmp_path, OutgoingMessage(ref="m1", to="6281234567890", kind="location", fields=fields))
    assert (line["kind"], line["fields"]) == ("location", fields)


def test_an_edit_names_its_target_and_the_windows_end(tmp_path: Path) -> None:
    message = OutgoingMessage(
        ref="m1", to="6281234567890", kind="edit", text="fixed", target=TARGET, not_after=NOW
    )
    line = sent_line(tmp_path, message)
    assert line["target"] == {"id": "3EB0AAAA1111", "chat": "6281234567890", "from_me": True, "sender": ""}
    assert line["not_after"] == NOW.timestamp()


def test_a_reply_with_mentions_and_typing_carries_them(tmp_path: Path) -> None:
    quoted = {**TARGET, "kind": "text", "text": "hello", "message_id": "ignored"}
    message = OutgoingMessage(
        ref="m1",
        to="120363025246125486@g.us",
        kind="text",
        text="@628111 hi",
        quoted=quoted,
        mentions=("628111111111@s.whatsapp.net",),
        typing_s=3.0,
    )
    line = sent_line(tmp_path, message)
    assert line["quoted"] == {
        "id": "3EB0AAAA1111",
        "chat": "6281234567890",
        "from_me": True,
        "sender": "",
        "kind": "text",
        "text": "hello",
    }
    assert (line["quoted"]["text"], line["mentions"], line["typing_s"]) == (
        "hello",
        ["628111111111@s.whatsapp.net"],
        3.0,
    )


@pytest.mark.parametrize("kind", ["reaction", "delete"])
def test_a_reaction_or_delete_without_a_target_is_refused_before_the_pipe(tmp_path: Path, kind: str) -> None:
    session, pipe = session_with_pipe(tmp_path)
    session.send(OutgoingMessage(ref="m1", to="6281234567890", kind=kind, fields={"emoji": "x"}), NOW)
    (result,) = session.events
    assert (result.data["ok"], result.data["retryable"]) == (False, False)
    assert "needs 'target'" in result.data["error"]
    assert pipe.lines == []
