"""The client's address, for throttles, lockouts and the access log.

The peer's address (REMOTE_ADDR, the ASGI scope's `client`) unless that peer is a proxy listed
in WAZIPER_TRUSTED_PROXIES: then X-Forwarded-For is read from the right, skipping the trusted
proxies, and the first address no trusted proxy vouches for is the client. Entries left of it
were written by the client itself and are never believed. With no trusted proxy configured the
header is ignored, so a client cannot pick the address it is throttled under.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def parse_networks(values: Iterable[str]) -> list[Network]:
    """`127.0.0.1`, `10.0.0.0/8`, `::1` → networks; raises ValueError naming a bad entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return networks


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(ip.version == net.version and ip in net for net in trusted)


def resolve(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address given the peer's, the X-Forwarded-For header and the trusted proxies."""
    ip = _ip(peer or "")
    if ip is None:  # a unix socket's peer, say: kept short, it names a throttle's row
        return (peer or UNKNOWN)[:64]
    if not trusted or not forwarded_for or not _trusted(ip, trusted):
        return str(ip)
    for hop in reversed(forwarded_for.split(",")):
        hop_ip = _ip(hop)
        if hop_ip is None:  # garbage: the last address a trusted proxy vouched for
            return str(ip)
        ip = hop_ip
        if not _trusted(ip, trusted):
            return str(ip)
    return str(ip)


def _trusted_proxies() -> list[Network]:
    return parse_networks(getattr(settings, "WAZIPER_TRUSTED_PROXIES", []))


def from_meta(meta: Mapping[str, Any]) -> str:
    """The client of a Django request (`request.META`)."""
    return resolve(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), _trusted_proxies())


def from_request(request: Any) -> str:
    """The client of a Django or DRF request (also django-axes' AXES_CLIENT_IP_CALLABLE)."""
    return from_meta(request.META)


def from_scope(scope: Mapping[str, Any]) -> str:
    """The client of an ASGI connection (HTTP or websocket)."""
    client = scope.get("client") or (None, None)
    forwarded = [value for name, value in scope.get("headers", []) if name == b"x-forwarded-for"]
    header = ",".join(value.decode("latin-1") for value in forwarded) or None
    return resolve(client[0], header, _trusted_proxies())
