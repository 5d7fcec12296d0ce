"""SSRF guard: which addresses a media URL may reach.

A gateway that fetches URLs its API clients name is a classic server-side request forgery hole:
`http://169.254.169.254/` (cloud metadata), `http://127.0.0.1:8000/admin/`, the office LAN. Only
globally routable addresses are allowed unless WAZIPER_ALLOW_PRIVATE_MEDIA_URLS is set. The check
runs on every resolved address of every hop (redirects included), and the download then connects
to the very address that was checked, so a DNS answer that changes in between (rebinding) cannot
slip a private address past it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_for

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
# A guard returns why an address is refused, or None to allow it.
Guard = Callable[[IPAddress], str | None]

# getaddrinfo cannot be cancelled; a few threads bound how many stuck lookups can pile up, and
# a lookup is only started while one of them is free (see early_check).
_LOOKUP_THREADS = 4
_LOOKUPS = ThreadPoolExecutor(max_workers=_LOOKUP_THREADS, thread_name_prefix="dns")
_FREE_LOOKUPS = threading.BoundedSemaphore(_LOOKUP_THREADS)


class BlockedAddress(Exception):
    """The URL's host is, or resolves to, an address the guard refuses."""


# IPv6 prefixes whose last 32 bits are an IPv4 address some gateway may deliver to: NAT64's
# well-known prefix (RFC 6052; AWS's NAT gateways translate it to VPC-private addresses too),
# SIIT's IPv4-translated ::ffff:0:a.b.c.d (RFC 2765) and the deprecated IPv4-compatible ::a.b.c.d.
# 6to4 (2002::/16) is read with `sixtofour`, Teredo (2001::/32) with `teredo`.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_EMBEDS_IPV4 = (_NAT64, ipaddress.IPv6Network("::ffff:0:0:0/96"), ipaddress.IPv6Network("::/96"))
# IANA allocates global unicast from 2000::/3 only; every other IPv6 block is special-purpose or
# unallocated (Python 3.11's is_global still calls much of it global: ::ffff:0:7f00:1, fec0::1,
# 64:ff9b:1::/48 local-use NAT64, 5f00::/16 SRv6). NAT64's well-known prefix is the exception,
# judged by the IPv4 address it carries.
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
# Blocks of the IANA special-purpose registries that Python 3.11's is_global misses.
_NOT_GLOBAL = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments: 192.0.0.8 dummy, PCP, NAT64 discovery
    ipaddress.IPv4Network("192.88.99.0/24"),  # deprecated 6to4 relay anycast (RFC 7526)
    ipaddress.IPv6Network("3fff::/20"),  # documentation (RFC 9637)
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries for some gateway (none for most)."""
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # (server, client), the client's address de-obfuscated
    if any(ip in net for net in _EMBEDS_IPV4) and int(ip) & 0xFFFFFFFF > 1:  # not :: or ::1
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def is_public(ip: IPAddress) -> bool:
    """Globally routable unicast: ipaddress's is_global, narrowed to what IANA's special-purpose
    registries say is globally reachable."""
    if not ip.is_global or any(ip in net for net in _NOT_GLOBAL):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return ip in _GLOBAL_UNICAST_V6 or ip in _NAT64
    return True


def refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why `ip` may not be fetched, or None. Private-but-allowed still refuses unspecified
    and multicast addresses, which are never a media server. An IPv6 address that carries an
    IPv4 one (mapped, translated, NAT64, 6to4, Teredo, compatible) is judged by the IPv4
    address too."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        else:
            for inner in _embedded_ipv4(ip):
                if reason := refusal(inner, allow_private):
                    return f"{ip} carries {inner}: {reason}"
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a unicast address"
    if allow_private:
        return None
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_private:
        return f"{ip} is a private address"
    if not is_public(ip):
        return f"{ip} is not a public address"
    return None


def default_guard(allow_private: bool) -> Guard:
    return lambda ip: refusal(ip, allow_private)


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def resolve(host: str, port: int, resolver: Resolver = system_resolver) -> list[IPAddress]:
    """Every address `host` stands for (a literal IP is its own answer)."""
    ip = literal_ip(host)
    if ip is not None:
        return [ip]
    return [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]


def checked_addresses(host: str, port: int, guard: Guard, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses to connect to; raises BlockedAddress if ANY is refused (a host that also
    resolves to a private address is refused outright, whichever one a connect would pick)."""
    try:
        addresses = resolve(host, port, resolver)
    except (OSError, UnicodeError, ValueError) as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise OSError(f"{host} has no address")
    for ip in addresses:
        reason = guard(ip)
        if reason:
            raise BlockedAddress(f"{host}: {reason}")
    return [str(ip) for ip in addresses]


_EARLY_CACHE: dict[tuple[str, int], tuple[float, str | None]] = {}
_EARLY_TTL = 60.0
_EARLY_MAX = 1024
# How long the enqueue-time check may wait for DNS: per lookup in early_check, and in all for
# the hosts of one bulk in early_check_many.
EARLY_TIMEOUT_S = 2.0


class _NeedsLookup:
    """The host is a name that only a DNS lookup can judge."""


_NEEDS_LOOKUP = _NeedsLookup()


def _remember(key: tuple[str, int], now: float, reason: str | None) -> None:
    if len(_EARLY_CACHE) >= _EARLY_MAX:
        _EARLY_CACHE.clear()
    _EARLY_CACHE[key] = (now, reason)


def _cached(key: tuple[str, int], now: float) -> tuple[float, str | None] | None:
    cached = _EARLY_CACHE.get(key)
    return cached if cached is not None and now - cached[0] < _EARLY_TTL else None


def early_check(host: str, port: int, allow_private: bool, *, timeout: float = EARLY_TIMEOUT_S) -> str | None:
    """Enqueue-time check: why `host` is refused, or None.

    Only a definite answer refuses: a lookup that fails or takes longer than `timeout` is let
    through, because the download checks again and a DNS hiccup must not bounce a blast.
    Answers are remembered for a minute: a bulk of a thousand invoices on one host is one lookup.
    """
    if allow_private:
        return _early_check(host, port, True, timeout)
    key, now = (host.lower(), port), time.monotonic()
    cached = _cached(key, now)
    if cached is not None:
        return cached[1]
    reason = _early_check(host, port, False, timeout)
    _remember(key, now, reason)
    return reason


def _resolve_then_free(host: str, port: int, resolver: Resolver = system_resolver) -> list[IPAddress]:
    try:
        return resolve(host, port, resolver)
    finally:
        _FREE_LOOKUPS.release()


def _without_lookup(host: str, allow_private: bool) -> str | _NeedsLookup | None:
    """The verdict on `host` when it needs no DNS lookup (a literal address, a localhost name, or
    any name while private addresses are allowed), else _NEEDS_LOOKUP."""
    ip = literal_ip(host)
    if ip is not None:
        return refusal(ip, allow_private)
    if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
        return None if allow_private else f"{host} is a loopback name"
    if allow_private:
        return None
    return _NEEDS_LOOKUP


def _verdict(host: str, addresses: list[IPAddress], allow_private: bool) -> str | None:
    for address in addresses:
        reason = refusal(address, allow_private)
        if reason:
            return f"{host}: {reason}"
    return None


def _early_check(host: str, port: int, allow_private: bool, timeout: float) -> str | None:
    verdict = _without_lookup(host, allow_private)
    if not isinstance(verdict, _NeedsLookup):
        return verdict
    # Every lookup thread stuck (a name server that never answers, named a thousand times in one
    # bulk): waiting would hold the request `timeout` per message and queue lookups behind the
    # stuck ones for every tenant. The download's check is the one that counts; give way to it.
    if not _FREE_LOOKUPS.acquire(blocking=False):
        return None
    future = _LOOKUPS.submit(_resolve_then_free, host, port)
    try:
        addresses = future.result(timeout=timeout)
    except (FutureTimeout, OSError, UnicodeError, ValueError):
        return None
    return _verdict(host, addresses, allow_private)


def early_check_many(
    targets: Iterable[tuple[str, int]],
    allow_private: bool,
    *,
    deadline_s: float = EARLY_TIMEOUT_S,
    resolver: Resolver = system_resolver,
) -> dict[tuple[str, int], str | None]:
    """early_check for every (host, port) of a bulk, under one deadline for the whole call.

    The distinct names are looked up concurrently in the shared lookup threads, each lookup
    started as soon as a thread is free (so no backlog builds up behind stuck lookups for other
    requests). A lookup not answered, or not started, when `deadline_s` has passed is treated as
    early_check treats one that times out: let through to the download's check, which is the one
    that counts. So a thousand hosts under a name server that never answers cost `deadline_s`,
    not a thousand timeouts. The result is keyed by (host lower-cased, port).
    """
    now = time.monotonic()
    deadline = now + deadline_s
    verdicts: dict[tuple[str, int], str | None] = {}
    pending: list[tuple[str, int]] = []
    for key in dict.fromkeys((host.lower(), port) for host, port in targets):
        verdict = _without_lookup(key[0], allow_private)
        cached = _cached(key, now)
        if not isinstance(verdict, _NeedsLookup):
            verdicts[key] = verdict
        elif cached is not None:
            verdicts[key] = cached[1]
        else:
            pending.append(key)
    started: dict[tuple[str, int], Future[list[IPAddress]]] = {}
    for key in pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not _FREE_LOOKUPS.acquire(timeout=remaining):
            break
        started[key] = _LOOKUPS.submit(_resolve_then_free, *key, resolver)
    wait_for(started.values(), timeout=max(0.0, deadline - time.monotonic()))
    for key in pending:
        verdicts[key] = None
        future = started.get(key)
        if future is None or not future.done():
            continue
        try:
            addresses = future.result()
        except (OSError, UnicodeError, ValueError):
            continue
        verdicts[key] = _verdict(key[0], addresses, allow_private)
        _remember(key, now, verdicts[key])
    return verdicts
