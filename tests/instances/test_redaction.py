"""instances.redaction: failure text without the gateway's own addresses, resolvers and paths."""

from __future__ import annotations

import pytest

from instances.redaction import redact_internals

NEONIZE_REFUSED = (
    "failed to dial whatsapp web websocket: failed to dial: socks connect tcp "
    "10.0.0.5:1080->web.whatsapp.com:443: dial tcp 10.0.0.5:1080: connect: connection refused"
)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            NEONIZE_REFUSED,
            "failed to dial whatsapp web websocket: failed to dial: socks connect tcp "
            "<address>->web.whatsapp.com:443: dial tcp <address>: connect: connection refused",
        ),
        ("dial tcp: lookup x on 127.0.0.53:53: no such host", "dial tcp: lookup x: no such host"),
        ("lookup web.whatsapp.com on [fe80::1%eth0]:53: timeout", "lookup web.whatsapp.com: timeout"),
        (
            "read tcp 192.168.1.2:54321->157.240.1.1:443: i/o timeout",
            "read tcp <address>-><address>: i/o timeout",
        ),
        ("dial tcp [2001:db8::1]:1080: network is unreachable", "dial tcp <address>: network is unreachable"),
        ("via ::ffff:10.0.0.1 and fd00::5", "via <address> and <address>"),
        (
            "session store /srv/waziper/sessions/ABC is corrupt: re-link required",
            "session store <path> is corrupt: re-link required",
        ),
    ],
)
def test_addresses_resolvers_and_paths_are_redacted(text: str, shown: str) -> None:
    assert redact_internals(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "no answer within 30s; connection cancelled",
        "whatsapp refused the connection: client_outdated",
        "at 12:30:45 with neonize 0.5.2 (v1.2.3.4.5)",
        "socks connect tcp ->web.whatsapp.com:443: EOF",
        "",
    ],
)
def test_text_without_internals_is_unchanged(text: str) -> None:
    assert redact_internals(text) == text
