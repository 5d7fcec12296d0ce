"""The client's address: the peer's, unless a trusted proxy vouches for another."""

from __future__ import annotations

from typing import Any

import pytest

from kernel.clientaddr import from_meta, from_scope, parse_networks, resolve

PROXY = parse_networks(["10.0.0.1", "192.168.0.0/16"])


def test_without_trusted_proxies_the_forwarded_header_is_ignored() -> None:
    assert resolve("203.0.113.9", "198.51.100.1", []) == "203.0.113.9"


def test_a_client_talking_directly_cannot_pick_its_address() -> None:
    assert resolve("203.0.113.9", "198.51.100.1", PROXY) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client() -> None:
    assert resolve("10.0.0.1", "198.51.100.1", PROXY) == "198.51.100.1"


def test_addresses_the_client_wrote_itself_are_not_believed() -> None:
    # The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended what it saw.
    assert resolve("10.0.0.1", "1.2.3.4, 198.51.100.1", PROXY) == "198.51.100.1"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    assert resolve("10.0.0.1", "198.51.100.1, 192.168.1.5", PROXY) == "198.51.100.1"


def test_garbage_in_the_header_stops_at_the_last_trusted_hop() -> None:
    assert resolve("10.0.0.1", "198.51.100.1, not-an-ip", PROXY) == "10.0.0.1"


def test_ipv4_mapped_ipv6_peers_are_their_ipv4_address() -> None:
    assert resolve("::ffff:10.0.0.1", "198.51.100.1", PROXY) == "198.51.100.1"


def test_an_odd_peer_is_kept_short() -> None:
    assert resolve("x" * 500, None, []) == "x" * 64
    assert resolve(None, None, []) == "unknown"


def test_a_bad_trusted_proxy_entry_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300'"):
        parse_networks(["10.0.0.300"])


def test_django_requests_and_asgi_scopes_read_the_setting(settings: Any) -> None:
    settings.WAZIPER_TRUSTED_PROXIES = ["127.0.0.1"]
    meta = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
    assert from_meta(meta) == "198.51.100.1"
    scope = {"client": ("127.0.0.1", 5000), "headers": [(b"x-forwarded-for", b"198.51.100.2")]}
    assert from_scope(scope) == "198.51.100.2"
    settings.WAZIPER_TRUSTED_PROXIES = []
    assert from_meta(meta) == "127.0.0.1"
