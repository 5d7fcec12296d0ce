"""Parse waziper's environment variables into settings, rejecting bad values loudly.

`load_waziper_settings(environ)` is a pure function of the environment so it can be tested
without reloading Django. Every error names the variable, because the operator reading it is
looking at a systemd unit or a shell, not at this file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from kernel.clientaddr import parse_networks

TRANSPORTS = ("neonize", "sandbox")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ImproperlyConfigured):
    """A configuration value from the environment is missing or malformed."""


def env_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def env_int(environ: Mapping[str, str], name: str, default: int, *, minimum: int | None = None) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def env_seconds(
    environ: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0, allow_zero: bool = False
) -> float:
    """A duration in seconds; decimals allowed (`0.2`) so tests and benchmarks can compress time."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return float(default)
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} must be a finite number of seconds")
    if value == 0 and allow_zero:
        return 0.0
    if value <= minimum:
        bound = f"greater than {minimum:g}" if not allow_zero else f"zero or greater than {minimum:g}"
        raise SettingsError(f"{name}={raw!r} must be {bound}")
    return value


def env_list(environ: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise SettingsError(f"{name}={raw!r} must be one of: {', '.join(choices)}")
    return value


def env_rate(environ: Mapping[str, str], name: str, default: str) -> str:
    """A DRF throttle rate such as `120/min`."""
    raw = environ.get(name)
    value = default if raw is None or raw.strip() == "" else raw.strip()
    num, _, period = value.partition("/")
    if not num.isdigit() or int(num) < 1 or not period or period[0] not in "smhd":
        raise SettingsError(f"{name}={value!r} is not a rate like 120/min (period s, m, h or d)")
    return value


def env_networks(environ: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated list of IP addresses or networks (`127.0.0.1, 10.0.0.0/8`)."""
    values = env_list(environ, name, [])
    try:
        parse_networks(values)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None
    return values


# scheme://host[:port], as a browser sends it in Origin: no path, query, user or trailing slash.
_ORIGIN_RE = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"
)


def env_origins(environ: Mapping[str, str], name: str, default: str) -> list[str]:
    """`*` (any origin), nothing (no cross-origin access), or comma-separated origins."""
    raw = environ.get(name)
    values = env_list({name: default if raw is None else raw}, name, [])
    if values == ["*"]:
        return values
    for value in values:
        if value == "*":
            raise SettingsError(f"{name}: `*` stands alone (any origin), not in a list")
        if not _ORIGIN_RE.match(value):
            raise SettingsError(
                f"{name}: {value!r} is not an origin like https://app.example.com or http://localhost:3000 "
                "(scheme, host and port only)"
            )
    return values


_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^/]*@")  # greedy: to the last @ of the netloc


def check_database_url(url: str) -> str:
    # Errors go to the terminal and the service's journal: never with the password in them.
    shown = _URL_PASSWORD.sub(r"\1***@", url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # unbalanced brackets: postgres://u:p@[host/db
        raise SettingsError(f"DATABASE_URL={shown!r} is malformed: {exc}") from None
    if parts.scheme not in ("sqlite", "postgres", "postgresql", "pgsql"):
        raise SettingsError(f"DATABASE_URL={shown!r}: scheme must be sqlite:// or postgres://")
    if parts.scheme != "sqlite" and not parts.path.strip("/"):
        raise SettingsError(f"DATABASE_URL={shown!r}: a PostgreSQL URL needs a database name")
    return url


@dataclass(frozen=True)
class _Seconds:
    name: str
    default: float
    allow_zero: bool = False


# (setting, default, zero allowed). Names are the environment variables minus nothing: the
# Django setting has the same name as the variable, so `grep WAZIPER_X` finds both.
_DURATIONS = (
    _Seconds("WAZIPER_BREAKER_WINDOW", 300),
    _Seconds("WAZIPER_BREAKER_COOLDOWN", 600),
    _Seconds("WAZIPER_BREAKER_MAX_COOLDOWN", 3600),
    _Seconds("WAZIPER_RETRY_BASE", 1),
    _Seconds("WAZIPER_RETRY_CAP", 20),
    _Seconds("WAZIPER_CONNECT_TIMEOUT", 30),
    _Seconds("WAZIPER_LIVE_CHECK_INTERVAL", 120),
    _Seconds("WAZIPER_CLEANUP_INTERVAL", 600),
    _Seconds("WAZIPER_LEASE_TTL", 30),
    _Seconds("WAZIPER_WORKER_STALL_S", 60),
    _Seconds("WAZIPER_SEND_DELAY_MIN", 2, allow_zero=True),
    _Seconds("WAZIPER_SEND_DELAY_MAX", 5, allow_zero=True),
    _Seconds("WAZIPER_SEND_TIMEOUT", 60),
    _Seconds("WAZIPER_SEND_RETRY_BASE", 5),
    _Seconds("WAZIPER_SEND_RETRY_CAP", 300),
    _Seconds("WAZIPER_MEDIA_TIMEOUT", 20),
    _Seconds("WAZIPER_HEALTH_CACHE_S", 1, allow_zero=True),
    _Seconds("WAZIPER_SESSION_QUERY_TIMEOUT", 10),
    _Seconds("WAZIPER_INBOX_MEDIA_TIMEOUT", 30),
    # How long a session's answer about groups, and about which numbers have WhatsApp, is
    # reused before the session is asked again (0: always ask).
    _Seconds("WAZIPER_GROUPS_CACHE_S", 300, allow_zero=True),
    _Seconds("WAZIPER_NUMBER_CHECK_CACHE_S", 86_400, allow_zero=True),
    _Seconds("WAZIPER_WEBHOOK_SECRET_OVERLAP", 24 * 3600, allow_zero=True),
    _Seconds("WAZIPER_WEBHOOK_CONNECT_TIMEOUT", 5),
    _Seconds("WAZIPER_WEBHOOK_TIMEOUT", 15),
    _Seconds("WAZIPER_WEBHOOK_RETRY_AFTER_CAP", 3600, allow_zero=True),
    _Seconds("WAZIPER_WEBHOOK_BREAKER_COOLDOWN", 10),
    _Seconds("WAZIPER_WEBHOOK_BREAKER_MAX_COOLDOWN", 3600),
    _Seconds("WAZIPER_WEBHOOK_LEASE_TTL", 30),
)


def load_waziper_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return every `WAZIPER_*` setting parsed from `environ`, or raise SettingsError."""
    out: dict[str, Any] = {
        d.name: env_seconds(environ, d.name, d.default, allow_zero=d.allow_zero) for d in _DURATIONS
    }
    out["WAZIPER_BREAKER_THRESHOLD"] = env_int(environ, "WAZIPER_BREAKER_THRESHOLD", 15, minimum=1)
    # Sessions per session-host process: memory per session against what one crash costs
    # (docs/performance.md, "Session hosts"). A host retires after this many failed dials.
    out["WAZIPER_SESSIONS_PER_HOST"] = env_int(environ, "WAZIPER_SESSIONS_PER_HOST", 10, minimum=1)
    out["WAZIPER_HOST_RECYCLE_AFTER"] = env_int(environ, "WAZIPER_HOST_RECYCLE_AFTER", 50, minimum=1)
    out["WAZIPER_EVENT_POLL_MS"] = env_int(environ, "WAZIPER_EVENT_POLL_MS", 100, minimum=10)
    out["WAZIPER_WORKER_CAPACITY"] = env_int(environ, "WAZIPER_WORKER_CAPACITY", 1000, minimum=1)
    out["WAZIPER_SEND_MAX_ATTEMPTS"] = env_int(environ, "WAZIPER_SEND_MAX_ATTEMPTS", 5, minimum=1)
    out["WAZIPER_WORKER_METRICS_PORT"] = env_int(environ, "WAZIPER_WORKER_METRICS_PORT", 0, minimum=0)
    out["WAZIPER_BULK_LIMIT"] = env_int(environ, "WAZIPER_BULK_LIMIT", 1000, minimum=1)
    out["WAZIPER_MEDIA_MAX_BYTES"] = env_int(environ, "WAZIPER_MEDIA_MAX_BYTES", 64 * 2**20, minimum=1)
    out["WAZIPER_FAILURE_RETENTION_DAYS"] = env_int(environ, "WAZIPER_FAILURE_RETENTION_DAYS", 30, minimum=1)
    out["WAZIPER_EVENT_RETENTION_DAYS"] = env_int(environ, "WAZIPER_EVENT_RETENTION_DAYS", 7, minimum=1)
    out["WAZIPER_INBOX_RETENTION_DAYS"] = env_int(environ, "WAZIPER_INBOX_RETENTION_DAYS", 30, minimum=1)
    out["WAZIPER_INBOX_MEDIA_MAX_BYTES"] = env_int(
        environ, "WAZIPER_INBOX_MEDIA_MAX_BYTES", 16 * 2**20, minimum=1
    )
    out["WAZIPER_ALLOW_PRIVATE_MEDIA_URLS"] = env_bool(environ, "WAZIPER_ALLOW_PRIVATE_MEDIA_URLS", False)
    out["WAZIPER_ALLOW_PRIVATE_PROXY_URLS"] = env_bool(environ, "WAZIPER_ALLOW_PRIVATE_PROXY_URLS", False)
    # 0: no limit. Superusers' own instances are never limited.
    out["WAZIPER_MAX_INSTANCES_PER_OWNER"] = env_int(
        environ, "WAZIPER_MAX_INSTANCES_PER_OWNER", 50, minimum=0
    )
    out["WAZIPER_MEDIA_DOWNLOADS_PER_OWNER"] = env_int(
        environ, "WAZIPER_MEDIA_DOWNLOADS_PER_OWNER", 2, minimum=1
    )
    out["WAZIPER_RESEND_UNCERTAIN"] = env_bool(environ, "WAZIPER_RESEND_UNCERTAIN", False)
    out["WAZIPER_DEFAULT_TRANSPORT"] = env_choice(environ, "WAZIPER_DEFAULT_TRANSPORT", "neonize", TRANSPORTS)
    out["WAZIPER_THROTTLE_RATE"] = env_rate(environ, "WAZIPER_THROTTLE_RATE", "600/min")
    out["WAZIPER_AUTH_FAILURE_RATE"] = env_rate(environ, "WAZIPER_AUTH_FAILURE_RATE", "20/min")
    out["WAZIPER_TRUSTED_PROXIES"] = env_networks(environ, "WAZIPER_TRUSTED_PROXIES")
    out["WAZIPER_LOGIN_FAILURE_LIMIT"] = env_int(environ, "WAZIPER_LOGIN_FAILURE_LIMIT", 10, minimum=1)
    out["WAZIPER_LOGIN_COOLOFF"] = env_seconds(environ, "WAZIPER_LOGIN_COOLOFF", 900)
    out["WAZIPER_CORS_ORIGINS"] = env_origins(environ, "WAZIPER_CORS_ORIGINS", "*")
    out["WAZIPER_CREATE_INSTANCE_ON_FIRST_USE"] = env_bool(
        environ, "WAZIPER_CREATE_INSTANCE_ON_FIRST_USE", False
    )
    out["WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS"] = env_bool(environ, "WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS", False)
    # A factor on the webhook retry schedule (5 s, 30 s … 12 h): tests and benchmarks shrink it.
    out["WAZIPER_WEBHOOK_RETRY_SCALE"] = env_seconds(environ, "WAZIPER_WEBHOOK_RETRY_SCALE", 1.0)
    out["WAZIPER_WEBHOOK_CONCURRENCY"] = env_int(environ, "WAZIPER_WEBHOOK_CONCURRENCY", 16, minimum=1)
    out["WAZIPER_WEBHOOK_PER_ENDPOINT"] = env_int(environ, "WAZIPER_WEBHOOK_PER_ENDPOINT", 2, minimum=1)
    out["WAZIPER_WEBHOOK_BREAKER_THRESHOLD"] = env_int(
        environ, "WAZIPER_WEBHOOK_BREAKER_THRESHOLD", 10, minimum=1
    )
    out["WAZIPER_WEBHOOK_POLL_MS"] = env_int(environ, "WAZIPER_WEBHOOK_POLL_MS", 50, minimum=5)
    out["WAZIPER_SESSIONS_DIR"] = environ.get("WAZIPER_SESSIONS_DIR", "").strip() or "sessions"

    if out["WAZIPER_BREAKER_MAX_COOLDOWN"] < out["WAZIPER_BREAKER_COOLDOWN"]:
        raise SettingsError(
            "WAZIPER_BREAKER_MAX_COOLDOWN must be at least WAZIPER_BREAKER_COOLDOWN "
            f"({out['WAZIPER_BREAKER_MAX_COOLDOWN']:g} < {out['WAZIPER_BREAKER_COOLDOWN']:g})"
        )
    if out["WAZIPER_RETRY_CAP"] < out["WAZIPER_RETRY_BASE"]:
        raise SettingsError(
            f"WAZIPER_RETRY_CAP must be at least WAZIPER_RETRY_BASE "
            f"({out['WAZIPER_RETRY_CAP']:g} < {out['WAZIPER_RETRY_BASE']:g})"
        )
    if out["WAZIPER_SEND_RETRY_CAP"] < out["WAZIPER_SEND_RETRY_BASE"]:
        raise SettingsError(
            f"WAZIPER_SEND_RETRY_CAP must be at least WAZIPER_SEND_RETRY_BASE "
            f"({out['WAZIPER_SEND_RETRY_CAP']:g} < {out['WAZIPER_SEND_RETRY_BASE']:g})"
        )
    if out["WAZIPER_WEBHOOK_BREAKER_MAX_COOLDOWN"] < out["WAZIPER_WEBHOOK_BREAKER_COOLDOWN"]:
        raise SettingsError(
            "WAZIPER_WEBHOOK_BREAKER_MAX_COOLDOWN must be at least WAZIPER_WEBHOOK_BREAKER_COOLDOWN "
            f"({out['WAZIPER_WEBHOOK_BREAKER_MAX_COOLDOWN']:g} < {out['WAZIPER_WEBHOOK_BREAKER_COOLDOWN']:g})"
        )
    if out["WAZIPER_WEBHOOK_TIMEOUT"] < out["WAZIPER_WEBHOOK_CONNECT_TIMEOUT"]:
        raise SettingsError(
            "WAZIPER_WEBHOOK_TIMEOUT must be at least WAZIPER_WEBHOOK_CONNECT_TIMEOUT "
            f"({out['WAZIPER_WEBHOOK_TIMEOUT']:g} < {out['WAZIPER_WEBHOOK_CONNECT_TIMEOUT']:g})"
        )
    if out["WAZIPER_SEND_DELAY_MAX"] < out["WAZIPER_SEND_DELAY_MIN"]:
        raise SettingsError(
            f"WAZIPER_SEND_DELAY_MAX must be at least WAZIPER_SEND_DELAY_MIN "
            f"({out['WAZIPER_SEND_DELAY_MAX']:g} < {out['WAZIPER_SEND_DELAY_MIN']:g})"
        )
    return out
