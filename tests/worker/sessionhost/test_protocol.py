"""The JSON-lines protocol between worker and session host: pure, no neonize, no Django."""

from __future__ import annotations

import json

import pytest

from worker.sessionhost import protocol as p

STORE = "/srv/waziper/sessions/ABC"


def test_encode_is_one_compact_ascii_line():
    line = p.encode({"event": "qr", "session": "A", "code": "2@x,y"})
    assert line == b'{"event":"qr","session":"A","code":"2@x,y"}\n'
    assert line.count(b"\n") == 1


def test_encode_escapes_newlines_and_non_ascii_inside_values():
    line = p.encode({"event": "incoming", "text": "hai\nsemua \u2028 \U0001f600"})
    assert line.count(b"\n") == 1
    assert line.isascii()
    assert json.loads(line)["text"] == "hai\nsemua \u2028 \U0001f600"


def test_decode_round_trips_bytes_and_str():
    msg = {"cmd": "ping", "ref": 7}
    assert p.decode_line(p.encode(msg)) == msg
    assert p.decode_line(p.encode(msg).decode()) == msg


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"garbage\n", "not JSON"),
        (b"[1, 2]\n", "expected a JSON object, got list"),
        (b'"ping"\n', "expected a JSON object, got str"),
        (b"   \n", "empty line"),
        (b'{"ref": 1}\n', "neither 'cmd' nor 'event'"),
        (b'{"cmd": 5}\n', "'cmd' must be a string"),
        (b"\xff\xfe{}\n", "not UTF-8"),
    ],
)
def test_decode_rejects_garbage_with_a_clear_message(line, message):
    with pytest.raises(p.ProtocolError, match=message):
        p.decode_line(line)


def test_decode_rejects_a_line_over_the_limit():
    with pytest.raises(p.ProtocolError, match="line too long"):
        p.decode_line(b'{"cmd":"ping","x":"' + b"a" * p.MAX_LINE_BYTES + b'"}')


def test_decode_error_keeps_ref_and_session_so_the_reply_can_name_them():
    with pytest.raises(p.ProtocolError) as info:
        p.decode_line('{"ref": "r1", "session": "S1"}')
    assert (info.value.ref, info.value.session, info.value.field) == ("r1", "S1", "cmd")


def test_connect_command_is_normalized_with_defaults():
    cmd = p.validate_command({"cmd": "connect", "session": "ABC", "ref": 1, "store": STORE})
    assert cmd == {"cmd": "connect", "ref": 1, "session": "ABC", "store": STORE, "proxy": None}


def test_empty_proxy_means_no_proxy():
    cmd = p.validate_command({"cmd": "connect", "session": "A", "store": STORE, "proxy": ""})
    assert cmd["proxy"] is None


def test_proxy_text_is_left_for_neonize_to_judge():
    cmd = p.validate_command({"cmd": "connect", "session": "A", "store": STORE, "proxy": "::nonsense"})
    assert cmd["proxy"] == "::nonsense"


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        ({"cmd": "connect", "session": "A"}, "store"),
        ({"cmd": "connect", "store": STORE}, "session"),
        ({"cmd": "connect", "session": "A", "store": "relative/dir"}, "store"),
        ({"cmd": "connect", "session": "A", "store": STORE, "proxy": 1080}, "proxy"),
        ({"cmd": "connect", "session": "a b/../c", "store": STORE}, "session"),
        ({"cmd": "send", "session": "A", "text": "hi"}, "to"),
        ({"cmd": "send", "session": "A", "to": "628123456", "kind": "gif"}, "kind"),
        ({"cmd": "send", "session": "A", "to": "628123456", "kind": "sticker"}, "media_path"),
        ({"cmd": "send", "session": "A", "to": "628123456"}, "text"),
        ({"cmd": "send", "session": "A", "to": "628123456", "kind": "image"}, "media_path"),
        ({"cmd": "send", "session": "A", "to": "628123456", "text": 5}, "text"),
        ({"cmd": "pair_phone", "session": "A"}, "phone"),
        ({"cmd": "pair_phone", "session": "A", "phone": "call me"}, "phone"),
        ({"cmd": "logout"}, "session"),
        ({"cmd": "disconnect", "session": ""}, "session"),
        ({"cmd": "ping", "ref": [1]}, "ref"),
        ({"cmd": "ping", "ref": True}, "ref"),
    ],
)
def test_a_bad_command_names_the_field_at_fault(msg, field):
    with pytest.raises(p.ProtocolError) as info:
        p.validate_command(msg)
    assert info.value.field == field
    assert field in str(info.value)


def test_unknown_command_lists_the_known_ones():
    with pytest.raises(p.ProtocolError, match="unknown command 'reboot'; known: connect") as info:
        p.validate_command({"cmd": "reboot", "session": "A", "ref": 9})
    assert (info.value.field, info.value.ref, info.value.session) == ("cmd", 9, "A")


def test_ping_needs_no_session_or_ref():
    assert p.validate_command({"cmd": "ping"}) == {"cmd": "ping", "ref": None, "session": None}


def test_send_defaults_to_text():
    cmd = p.validate_command({"cmd": "send", "session": "A", "ref": "m1", "to": "628123456", "text": "hi"})
    assert cmd["kind"] == "text"
    assert cmd["media_path"] is None


def test_media_send_may_carry_a_caption_or_none():
    cmd = p.validate_command(
        {"cmd": "send", "session": "A", "to": "628123456", "kind": "document", "media_path": "/tmp/x.pdf"}
    )
    assert cmd["text"] is None
    assert cmd["filename"] is None


def test_pair_phone_keeps_only_digits():
    cmd = p.validate_command({"cmd": "pair_phone", "session": "A", "phone": "+62 812-3456-789"})
    assert cmd["phone"] == "628123456789"


def test_command_builder_validates_and_drops_nulls():
    line = p.command(p.CONNECT, session="A", ref=1, store=STORE, proxy=None)
    assert json.loads(line) == {"cmd": "connect", "session": "A", "ref": 1, "store": STORE}
    with pytest.raises(p.ProtocolError, match="missing field 'store'"):
        p.command(p.CONNECT, session="A")


def test_event_builder_leaves_out_none_fields():
    assert p.event(p.PONG, None, ref=None, connected=False) == {"event": "pong", "connected": False}


def test_host_event_parses_kind_session_and_data():
    ev = p.HostEvent.parse(b'{"event":"send_result","session":"A","ref":"m1","ok":true,"message_id":"X"}\n')
    assert (ev.kind, ev.session, ev.ref) == ("send_result", "A", "m1")
    assert ev.data == {"ref": "m1", "ok": True, "message_id": "X"}
    assert p.HostEvent.parse(ev.encode()) == ev


def test_host_event_refuses_a_command_line():
    with pytest.raises(p.ProtocolError, match="not an event"):
        p.HostEvent.parse('{"cmd":"ping"}')


def test_every_event_name_is_distinct_from_every_command():
    assert not (p.EVENTS & p.COMMANDS)


@pytest.mark.parametrize(
    ("to", "jid"),
    [
        ("628123456789", "628123456789@s.whatsapp.net"),
        ("+62 812-3456-789", "628123456789@s.whatsapp.net"),
        ("628123456789@s.whatsapp.net", "628123456789@s.whatsapp.net"),
        ("628123456789@c.us", "628123456789@s.whatsapp.net"),
        ("120363025246125486@g.us", "120363025246125486@g.us"),
        ("1234567890-1603273223@G.US", "1234567890-1603273223@g.us"),
        ("12345678901234@lid", "12345678901234@lid"),
    ],
)
def test_recipients_normalize_to_full_jids(to, jid):
    assert p.normalize_recipient(to) == jid


@pytest.mark.parametrize("to", ["hello", "12", "628123@example.com", "abc@s.whatsapp.net", "@g.us"])
def test_invalid_recipients_are_rejected(to):
    with pytest.raises(ValueError, match="invalid recipient"):
        p.normalize_recipient(to)


@pytest.mark.parametrize(
    ("text", "retryable"),
    [
        ("failed to dial whatsapp web websocket: ... connect: connection refused", True),
        ("... socks connect tcp 127.0.0.1:1->web.whatsapp.com:443: EOF", True),
        ('parse "::bad": missing protocol scheme', False),
        ('unsupported proxy scheme "ftp"', False),
        (
            "failed to upgrade database: failed to check if foreign keys are enabled: file is not a database",
            False,
        ),
        ("cannot use session store /etc/hostname/x: Not a directory", False),
    ],
)
def test_connect_errors_say_whether_a_retry_can_help(text, retryable):
    assert p.connect_error_retryable(text) is retryable


def test_store_corruption_is_recognized_in_neonize_and_sqlite_words():
    assert p.is_store_corruption("failed to upgrade database: ...: file is not a database")
    assert p.is_store_corruption("database disk image is malformed")
    assert not p.is_store_corruption("unable to open database file: not a directory")


@pytest.mark.parametrize(
    ("text", "retryable"),
    [
        ("not connected", True),
        ("websocket not connected", True),
        ("628123 is not on WhatsApp", False),
        ("invalid recipient 'x': expected phone digits or a full JID", False),
        ("ffmpeg/ffprobe not installed: neonize needs them to send audio", False),
    ],
)
def test_send_errors_say_whether_a_retry_can_help(text, retryable):
    assert p.send_error_retryable(text) is retryable


def test_a_query_for_an_op_the_host_does_not_know_is_refused_naming_the_field() -> None:
    with pytest.raises(p.ProtocolError) as refused:
        p.command(p.QUERY, session="S", ref="?1", op="format_disk")
    assert refused.value.field == "op"


def test_a_query_deadline_must_be_a_unix_time() -> None:
    with pytest.raises(p.ProtocolError) as refused:
        p.command(p.QUERY, session="S", ref="?1", op="profile", deadline="soon")
    assert refused.value.field == "deadline"


def test_an_event_may_carry_a_field_named_kind():
    # An incoming message and a receipt say what kind of message or receipt they are.
    assert p.event(p.INCOMING, "S1", kind="text", session_note="x") == {
        "event": "incoming",
        "session": "S1",
        "kind": "text",
        "session_note": "x",
    }
