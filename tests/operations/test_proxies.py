"""operations.proxies: which proxy addresses a tenant may give an instance."""

from __future__ import annotations

import threading

import pytest

from operations.proxies import proxy_refusal


def resolves_to(*addresses: str):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_a_public_address_is_allowed(address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    assert proxy_refusal(f"socks5://{host}:1080") is None


def test_a_name_with_only_public_addresses_is_allowed() -> None:
    assert proxy_refusal("socks5://proxy.example:1080", resolver=resolves_to("93.184.215.14")) is None


def test_a_name_with_any_internal_address_is_refused_without_saying_which() -> None:
    resolver = resolves_to("93.184.215.14", "10.0.0.5")
    problem = proxy_refusal("socks5://proxy.example:1080", resolver=resolver)
    assert problem is not None
    assert "proxy.example does not resolve" in problem
    assert "10.0.0.5" not in problem


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    assert "does not resolve" in (proxy_refusal("socks5://nowhere.example:1080", resolver=fails) or "")


def test_a_lookup_that_hangs_is_refused_after_the_timeout() -> None:
    release = threading.Event()

    def hangs(host: str, port: int) -> list[str]:
        release.wait(5)
        return ["93.184.215.14"]

    try:
        problem = proxy_refusal("socks5://slow.example:1080", resolver=hangs, timeout=0.05)
    finally:
        release.set()
    assert "within 0.05 s" in (problem or "")


def test_an_internal_literal_says_why() -> None:
    problem = proxy_refusal("socks5://169.254.169.254:1080") or ""
    assert "169.254.169.254 is a link-local address" in problem
