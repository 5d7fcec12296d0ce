"""The SSRF guard's address rules and the enqueue-time host checks (downloads: test_media.py)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import pytest

from queueing import netguard


def refused(address: str, allow_private: bool = False) -> bool:
    return netguard.refusal(ipaddress.ip_address(address), allow_private) is not None


def teredo(server: str, client: str) -> str:
    """A Teredo address (2001::/32) naming `server`, with `client` obfuscated as RFC 4380 has it."""
    value = (0x2001 << 112) | (int(ipaddress.IPv4Address(server)) << 64)
    value |= int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address(value))


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:0:7f00:1",  # SIIT IPv4-translated 127.0.0.1 (::ffff:0:0:0/96)
        "::ffff:0:a00:1",  # … 10.0.0.1
        "::ffff:0:a9fe:a9fe",  # … 169.254.169.254
        "::ffff:0:5db8:d70e",  # … even of a public address: not itself a public address
        "192.0.0.8",  # IPv4 dummy address (IETF protocol assignments, 192.0.0.0/24)
        "192.0.0.9",  # PCP anycast: a protocol's address, never a media server
        "192.0.0.170",  # NAT64 discovery
        "192.88.99.1",  # deprecated 6to4 relay anycast
        "3fff::1",  # documentation (RFC 9637)
        "5f00::1",  # SRv6 SIDs
        "100:0:0:1::1",  # dummy IPv6 prefix
        "::1:2:3:4",  # unallocated (outside 2000::/3)
        teredo("10.0.0.1", "93.184.215.14"),  # Teredo whose server is private
        teredo("93.184.215.14", "127.0.0.1"),  # … whose client is loopback
        teredo("93.184.215.14", "93.184.215.14"),  # Teredo (2001::/32) is not global at all
        "2002:c000:8::1",  # 6to4 of 192.0.0.8
        "64:ff9b::c000:8",  # NAT64 of 192.0.0.8
    ],
)
def test_special_purpose_addresses_are_refused(address: str) -> None:
    assert refused(address)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "2606:4700::1111",
        "64:ff9b::5db8:d70e",  # NAT64 of a public address (DNS64 networks)
        "2002:5db8:d70e::1",  # 6to4 of a public address
        "2620:4f:8000::1",  # AS112 direct delegation: globally reachable per IANA
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert not refused(address)


@pytest.mark.parametrize("address", ["::ffff:0:a00:1", "192.0.0.8", teredo("10.0.0.1", "10.0.0.2")])
def test_private_forms_pass_when_the_operator_allows_private_addresses(address: str) -> None:
    assert not refused(address, allow_private=True)


def test_a_translated_address_names_the_address_it_carries() -> None:
    reason = netguard.refusal(ipaddress.ip_address("::ffff:0:7f00:1"), False)
    assert reason == "::ffff:0:7f00:1 carries 127.0.0.1: 127.0.0.1 is a loopback address"


# --- early_check_many: a bulk's hosts at once ----------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_cache():
    netguard._EARLY_CACHE.clear()
    yield
    netguard._EARLY_CACHE.clear()


def test_many_hosts_under_a_name_server_that_never_answers_cost_one_deadline() -> None:
    release, calls = threading.Event(), []

    def silent(host: str, port: int) -> list[str]:
        calls.append(host)
        release.wait(30)
        raise OSError("timed out")

    targets = [(f"h{i}.blackhole.example", 443) for i in range(1000)]
    started = time.monotonic()
    try:
        verdicts = netguard.early_check_many(targets, False, deadline_s=0.5, resolver=silent)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert set(verdicts.values()) == {None}  # not answered: the download's check decides
    assert len(verdicts) == 1000
    assert len(calls) <= 4  # one per lookup thread; nothing queued behind them
    assert elapsed < 0.5 + 2.5  # one deadline for all, not one per host


def test_many_hosts_are_looked_up_concurrently() -> None:
    # Each answer waits until four lookups are under way at once: one after another, the
    # barrier breaks and no host is judged.
    together = threading.Barrier(4)
    answers = {
        "a.example": "93.184.215.14",
        "b.example": "10.0.0.7",
        "c.example": "127.0.0.1",
        "d.example": "::1",
    }

    def resolver(host: str, port: int) -> list[str]:
        try:
            together.wait(timeout=10)
        except threading.BrokenBarrierError:
            raise OSError("looked up alone") from None
        return [answers[host]]

    verdicts = netguard.early_check_many([(h, 443) for h in answers], False, deadline_s=20, resolver=resolver)
    assert verdicts[("a.example", 443)] is None
    assert "private" in verdicts[("b.example", 443)]
    assert "loopback" in verdicts[("c.example", 443)]
    assert "loopback" in verdicts[("d.example", 443)]


def test_addresses_and_localhost_are_judged_without_a_lookup() -> None:
    def no_lookups(host: str, port: int) -> list[str]:
        raise AssertionError(f"looked up {host}")

    targets = [("127.0.0.1", 80), ("[::ffff:0:7f00:1]", 80), ("localhost", 80), ("93.184.215.14", 443)]
    verdicts = netguard.early_check_many(targets, False, resolver=no_lookups)
    assert [verdicts[t] is not None for t in targets] == [True, True, True, False]


def test_each_distinct_host_is_looked_up_once_and_remembered(monkeypatch) -> None:
    calls = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["192.168.1.20"]

    netguard.early_check_many([("Intranet.example", 80), ("intranet.example", 80)], False, resolver=resolver)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: pytest.fail("looked up again"))
    assert "private" in netguard.early_check("intranet.example", 80, False)
    assert calls == ["intranet.example"]
