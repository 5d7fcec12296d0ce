"""Failure text as tenants see it: without the addresses and paths of the gateway's own network.

neonize's errors name the addresses it dialed, the local end of a socket and the resolver it
asked (`dial tcp 10.0.0.5:1080: connect: connection refused`, `lookup x on 127.0.0.53:53: no
such host`), and a store error names its path on disk. Staff and the admin see the full text;
the API's answers to everyone else and the live pages show it redacted.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

ADDRESS = "<address>"
PATH = "<path>"

# Candidates for an IP address with an optional port: IPv6 `[x::y]:port` or bare `x::y` (also
# `::ffff:a.b.c.d`), IPv4 `a.b.c.d[:port]`. Each is checked with ipaddress before it is replaced,
# so times (12:30:45) and versions (0.5.2) stay.
_BRACKETED = re.compile(r"\[([0-9A-Fa-f:.%\w]+)\](?::\d{1,5})?")
_IPV6 = re.compile(
    r"(?<![\w:.])((?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4})(?:%\w+)?)(?![\w:.])"
)
_IPV4 = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?(?![\w.])")
# `lookup NAME on RESOLVER`, once addresses are redacted: the name (what was looked up) stays.
_RESOLVER = re.compile(rf"(\blookup \S+?) on {ADDRESS}")
# An absolute path of two or more parts, not part of a URL.
_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.@+-]+/)+[\w.@+-]*")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _address_or_keep(match: re.Match[str]) -> str:
    candidate = match.group(1)
    if _is_ip(candidate):
        return ADDRESS
    # `on fe80::1: no such host`: the colon after a bare IPv6 address is the message's own.
    if candidate.endswith(":") and _is_ip(candidate[:-1]) and match.group(0) == candidate:
        return ADDRESS + ":"
    return match.group(0)


def redact_internals(text: str) -> str:
    """`text` without IP addresses (and their ports), resolver addresses or file paths."""
    if not text:
        return text
    for pattern in (_BRACKETED, _IPV6, _IPV4):
        text = pattern.sub(_address_or_keep, text)
    text = _RESOLVER.sub(r"\1", text)
    return _PATH.sub(PATH, text)


def sees_internals(user: Any) -> bool:
    """Staff read failure text in full; everyone else gets redact_internals."""
    return bool(getattr(user, "is_staff", False))


def shown_to(user: Any, text: str) -> str:
    return text if sees_internals(user) else redact_internals(text)
