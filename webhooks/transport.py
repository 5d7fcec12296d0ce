"""The deliverer's HTTP client: pooled, with timeouts, no redirects, and the SSRF guard.

A webhook URL is checked when it is saved (validation.py) and again at every new connection:
the network backend below resolves the host, refuses the connection if any of its addresses is
one the guard refuses (queueing.netguard), and connects to the very address it checked, so a DNS
answer that changes in between (rebinding) cannot reach a private address. TLS still verifies
the certificate for the URL's host name (httpcore passes the name, not the address, as SNI).
Environment proxies are ignored: a proxy would hide the address being reached.
"""

from __future__ import annotations

import typing

import httpcore
import httpx

from queueing import netguard
from queueing.netguard import Guard, Resolver


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to addresses the guard allowed."""

    def __init__(self, guard: Guard, resolver: Resolver = netguard.system_resolver) -> None:
        self.guard = guard
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            address = netguard.checked_addresses(host, port, self.guard, self.resolver)[0]
        except netguard.BlockedAddress as exc:
            raise BlockedWebhookAddress(str(exc)) from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class BlockedWebhookAddress(httpcore.ConnectError):
    """The host is, or resolves to, an address the SSRF guard refuses."""


def client(
    *,
    allow_private: bool,
    connect_timeout: float,
    timeout: float,
    max_connections: int = 100,
    resolver: Resolver = netguard.system_resolver,
) -> httpx.Client:
    """One client per process, shared by its delivery threads (httpx.Client is thread-safe)."""
    transport = httpx.HTTPTransport(
        trust_env=False,
        retries=0,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )
    transport._pool = httpcore.ConnectionPool(  # the same pool httpx builds, with our backend
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
        retries=0,
        network_backend=GuardedBackend(netguard.default_guard(allow_private), resolver),
    )
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
    )
