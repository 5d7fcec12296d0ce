"""Media downloads against a real HTTP server on loopback, and the SSRF guard."""

from __future__ import annotations

import ipaddress
import itertools
import os
import socket
import threading
import time

import pytest

from queueing import netguard
from queueing.media import MediaError, fetch_media
from tests.support.media_server import PNG, base_url, media_server

ALLOW = netguard.default_guard(True)
DENY = netguard.default_guard(False)


@pytest.fixture(scope="module")
def _server():
    with media_server() as srv:
        yield srv


@pytest.fixture
def server(_server):
    _server.hits.clear()
    return _server


def only_the_test_server(ip) -> str | None:
    """Production rules, except that the test server itself counts as public."""
    return None if str(ip) == "127.0.0.1" else netguard.refusal(ip, False)


def fetch(url: str, tmp_path, guard=ALLOW, **kw):
    kw.setdefault("timeout", 5)
    kw.setdefault("max_bytes", 1_000_000)
    return fetch_media(url, dest_dir=str(tmp_path), guard=guard, **kw)


def test_it_downloads_to_a_file_with_type_and_name(server, tmp_path) -> None:
    media = fetch(f"{base_url(server)}/cat.png", tmp_path)
    assert open(media.path, "rb").read() == PNG
    assert (media.size, media.mimetype, media.filename) == (len(PNG), "image/png", "cat.png")


def test_it_takes_the_name_from_content_disposition(server, tmp_path) -> None:
    assert fetch(f"{base_url(server)}/invoice", tmp_path).filename == "inv-7.pdf"


def test_it_follows_redirects(server, tmp_path) -> None:
    assert fetch(f"{base_url(server)}/redirect?to=/cat.png", tmp_path).size == len(PNG)


def test_loopback_is_refused_when_private_urls_are_not_allowed(server, tmp_path) -> None:
    with pytest.raises(MediaError, match="loopback") as exc:
        fetch(f"{base_url(server)}/cat.png", tmp_path, guard=DENY)
    assert exc.value.permanent
    assert server.hits == []  # refused before connecting


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.2:1/x",
        "http://[::1]:1/x",
        "http://10.0.0.1/x",
        "http://[::ffff:127.0.0.1]:1/x",
    ],
)
def test_a_redirect_to_a_private_address_is_refused(server, tmp_path, target: str) -> None:
    with pytest.raises(MediaError, match="refused media URL") as exc:
        fetch(f"{base_url(server)}/redirect?to={target}", tmp_path, guard=only_the_test_server)
    assert exc.value.permanent
    assert server.hits == ["/redirect"]


@pytest.mark.parametrize("location", ["http://[::1/x", "http://[93.184.215.14]/x"])
def test_a_redirect_to_a_malformed_url_is_a_permanent_failure(server, tmp_path, location: str) -> None:
    with pytest.raises(MediaError, match="refused URL") as exc:
        fetch(f"{base_url(server)}/redirect?to={location}", tmp_path)
    assert exc.value.permanent


def test_a_name_resolving_to_any_private_address_is_refused(tmp_path) -> None:
    resolver = lambda host, port: ["93.184.215.14", "10.0.0.7"]  # noqa: E731
    with pytest.raises(MediaError, match=r"10\.0\.0\.7 is a private address"):
        fetch("http://media.example/a.png", tmp_path, guard=DENY, resolver=resolver)


def test_the_download_connects_to_the_address_that_was_checked(server, tmp_path) -> None:
    # A resolver that answers differently on each call (DNS rebinding) is asked exactly once.
    answers = itertools.chain(["127.0.0.1"], itertools.repeat("10.9.9.9"))
    resolver = lambda host, port: [next(answers)]  # noqa: E731
    url = f"http://media.test:{server.server_address[1]}/cat.png"
    assert fetch(url, tmp_path, guard=only_the_test_server, resolver=resolver).size == len(PNG)


def test_redirect_loops_are_cut_off(server, tmp_path) -> None:
    with pytest.raises(MediaError, match="redirects"):
        fetch(f"{base_url(server)}/loop", tmp_path)


def test_a_declared_size_over_the_cap_is_refused_before_reading(server, tmp_path) -> None:
    with pytest.raises(MediaError, match="over the 1000000-byte limit") as exc:
        fetch(f"{base_url(server)}/huge-declared", tmp_path)
    assert exc.value.permanent


def test_a_streamed_body_over_the_cap_is_cut_off_and_removed(server, tmp_path) -> None:
    with pytest.raises(MediaError, match="over the 10000-byte limit"):
        fetch(f"{base_url(server)}/huge-streamed", tmp_path, max_bytes=10_000)
    assert os.listdir(tmp_path) == []


def test_the_whole_download_has_one_deadline(server, tmp_path) -> None:
    ticks = itertools.count(0, 3)  # every look at the clock is 3 s later
    with pytest.raises(MediaError, match="timed out") as exc:
        fetch(f"{base_url(server)}/cat.png", tmp_path, timeout=5, monotonic=lambda: next(ticks))
    assert not exc.value.permanent
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("code", "permanent"), [(404, True), (403, True), (429, False), (500, False), (503, False)]
)
def test_http_errors_say_whether_a_retry_can_help(server, tmp_path, code: int, permanent: bool) -> None:
    with pytest.raises(MediaError, match=f"HTTP {code}") as exc:
        fetch(f"{base_url(server)}/error?code={code}", tmp_path)
    assert exc.value.permanent is permanent


def test_an_empty_body_is_a_permanent_error(server, tmp_path) -> None:
    with pytest.raises(MediaError, match="empty") as exc:
        fetch(f"{base_url(server)}/empty", tmp_path)
    assert exc.value.permanent


def test_a_refused_connection_is_transient(tmp_path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MediaError) as exc:
        fetch(f"http://127.0.0.1:{port}/x", tmp_path)
    assert not exc.value.permanent


@pytest.mark.parametrize("url", ["ftp://93.184.215.14/a", "file:///etc/passwd", "http:///nohost"])
def test_non_http_urls_are_refused(tmp_path, url: str) -> None:
    with pytest.raises(MediaError, match="only http") as exc:
        fetch(url, tmp_path)
    assert exc.value.permanent


@pytest.mark.parametrize(
    ("address", "allow_private", "refused"),
    [
        ("93.184.215.14", False, False),
        ("2606:4700::1111", False, False),
        ("127.0.0.1", False, True),
        ("10.1.1.1", False, True),
        ("172.16.0.1", False, True),
        ("192.168.1.1", False, True),
        ("100.64.0.1", False, True),  # carrier-grade NAT: not global
        ("169.254.169.254", False, True),
        ("fe80::1", False, True),
        ("fc00::1", False, True),
        ("::ffff:10.0.0.1", False, True),
        # IPv6 forms that carry an IPv4 address a gateway may translate to (NAT64 on AWS reaches
        # the VPC's private addresses): judged by the IPv4 address inside.
        ("64:ff9b::7f00:1", False, True),
        ("64:ff9b::a9fe:a9fe", False, True),
        ("64:ff9b::a00:5", False, True),
        ("64:ff9b::5db8:d70e", False, False),  # 93.184.215.14 through DNS64: public
        ("64:ff9b:1::a00:5", False, True),  # local-use NAT64 prefix (RFC 8215)
        ("2002:7f00:1::1", False, True),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", False, True),
        ("::7f00:1", False, True),  # deprecated IPv4-compatible ::127.0.0.1
        ("fec0::1", False, True),  # deprecated site-local
        ("64:ff9b::a00:5", True, False),
        ("64:ff9b::e000:1", True, True),  # multicast inside
        ("10.1.1.1", True, False),
        ("0.0.0.0", True, True),
        ("224.0.0.1", True, True),
    ],
)
def test_the_address_table(address: str, allow_private: bool, refused: bool) -> None:
    assert (netguard.refusal(ipaddress.ip_address(address), allow_private) is not None) is refused


def test_enqueue_refuses_a_name_that_resolves_to_a_private_address(monkeypatch) -> None:
    netguard._EARLY_CACHE.clear()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("192.168.1.20", 80))])
    assert "private" in netguard.early_check("intranet.example", 80, False)
    netguard._EARLY_CACHE.clear()


def test_enqueue_lets_an_unresolvable_name_through_to_the_download_check(monkeypatch) -> None:
    netguard._EARLY_CACHE.clear()

    def no_dns(*args, **kwargs):
        raise socket.gaierror("no network")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert netguard.early_check("media.example", 443, False) is None
    netguard._EARLY_CACHE.clear()


def test_stuck_lookups_do_not_pile_up_or_hold_the_request(monkeypatch) -> None:
    # A bulk can name a thousand hosts under a domain whose name server never answers; each
    # early check waiting its full timeout would hold the request for 1,000 × 2 s, and every
    # queued lookup would delay other tenants' checks. Once every lookup thread is stuck, the
    # check gives way to the download's own (which is authoritative).
    netguard._EARLY_CACHE.clear()
    release = threading.Event()
    calls = []

    def stuck(host, *args, **kwargs):
        calls.append(host)
        release.wait(10)
        raise socket.gaierror("timed out")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    started = time.monotonic()
    try:
        for i in range(20):
            assert netguard.early_check(f"h{i}.blackhole.example", 443, False, timeout=0.2) is None
        elapsed = time.monotonic() - started
    finally:
        release.set()
        netguard._EARLY_CACHE.clear()
    assert elapsed < 2.0  # 20 × 0.2 s = 4 s when every check waits
    assert len(calls) <= 4  # no backlog behind the stuck threads
