"""Which proxy a tenant may give an instance: never one on a private, loopback or link-local
address, unless staff set it or WAZIPER_ALLOW_PRIVATE_PROXY_URLS allows it.

The session host dials the proxy and records what went wrong in the failure details a tenant
can read; a proxy on an internal address would make the gateway a port scanner of its own
network. The address rules are the media guard's (queueing/netguard.py). A host name is
resolved when the URL is saved and every address it has must pass; the session host resolves it
again when it dials, so a name whose DNS answer changes later is not caught here (only an IP
address, or a name the operator controls, closes that gap).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from queueing import netguard

LOOKUP_TIMEOUT_S = 2.0
# getaddrinfo cannot be cancelled: a few threads bound how many stuck lookups can pile up, and a
# lookup starts only while one is free (else the URL is refused for now, never waited on).
_LOOKUP_THREADS = 2
_LOOKUPS = ThreadPoolExecutor(max_workers=_LOOKUP_THREADS, thread_name_prefix="proxy-dns")
_FREE_LOOKUPS = threading.BoundedSemaphore(_LOOKUP_THREADS)


def may_use_private_proxy(user: Any) -> bool:
    return bool(settings.WAZIPER_ALLOW_PRIVATE_PROXY_URLS or getattr(user, "is_staff", False))


def _resolve_then_free(host: str, port: int, resolver: netguard.Resolver) -> list[netguard.IPAddress]:
    try:
        return netguard.resolve(host, port, resolver)
    finally:
        _FREE_LOOKUPS.release()


def proxy_refusal(
    url: str,
    *,
    resolver: netguard.Resolver = netguard.system_resolver,
    timeout: float = LOOKUP_TIMEOUT_S,
) -> str | None:
    """Why a tenant may not use proxy `url` (already syntax-checked by
    instances.validation.validate_proxy_url), or None.

    A host that does not resolve in time is refused: unlike a media URL, nothing checks the
    proxy's address again before the dial. For a host name the answer never says what the name
    resolved to, or whether it resolved at all: that would tell a tenant the internal network's
    DNS answers.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 0
    ip = netguard.literal_ip(host)
    if ip is not None:
        reason = netguard.refusal(ip, allow_private=False)
        return _refused(reason) if reason else None
    lowered = host.lower().rstrip(".")
    if lowered == "localhost" or lowered.endswith(".localhost"):
        return _refused(f"{host} is a loopback name")
    if not _FREE_LOOKUPS.acquire(blocking=False):
        return f"Proxy host {host} cannot be checked right now; try again shortly."
    future = _LOOKUPS.submit(_resolve_then_free, host, port, resolver)
    try:
        addresses = future.result(timeout=timeout)
    except (FutureTimeout, OSError, UnicodeError, ValueError):
        addresses = []
    if not addresses or any(netguard.refusal(a, allow_private=False) for a in addresses):
        return _refused(f"{host} does not resolve (within {timeout:g} s) to public addresses only")
    return None


def _refused(reason: str) -> str:
    return (
        f"Proxy address refused: {reason}. Only staff may give an instance a proxy on a private, "
        "loopback or link-local address (or the operator, with WAZIPER_ALLOW_PRIVATE_PROXY_URLS)."
    )
