from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from waziper_site.config import SettingsError, check_database_url, load_waziper_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_seeds_numbers() -> None:
    cfg = load_waziper_settings({})
    assert cfg["WAZIPER_BREAKER_THRESHOLD"] == 15
    assert cfg["WAZIPER_BREAKER_WINDOW"] == 300
    assert cfg["WAZIPER_BREAKER_COOLDOWN"] == 600
    assert cfg["WAZIPER_BREAKER_MAX_COOLDOWN"] == 3600
    assert cfg["WAZIPER_LIVE_CHECK_INTERVAL"] == 120
    assert cfg["WAZIPER_CLEANUP_INTERVAL"] == 600
    assert (cfg["WAZIPER_SEND_DELAY_MIN"], cfg["WAZIPER_SEND_DELAY_MAX"]) == (2, 5)
    assert cfg["WAZIPER_DEFAULT_TRANSPORT"] == "neonize"
    assert cfg["WAZIPER_ALLOW_PRIVATE_MEDIA_URLS"] is False


def test_a_worker_is_stalled_after_a_minute_without_progress_unless_configured() -> None:
    assert load_waziper_settings({})["WAZIPER_WORKER_STALL_S"] == 60
    assert load_waziper_settings({"WAZIPER_WORKER_STALL_S": "2.5"})["WAZIPER_WORKER_STALL_S"] == 2.5


def test_session_answers_are_cached_five_minutes_for_groups_and_a_day_for_numbers() -> None:
    cfg = load_waziper_settings({})
    assert (cfg["WAZIPER_GROUPS_CACHE_S"], cfg["WAZIPER_NUMBER_CHECK_CACHE_S"]) == (300, 86_400)


def test_a_cache_of_zero_seconds_always_asks_the_session() -> None:
    cfg = load_waziper_settings({"WAZIPER_GROUPS_CACHE_S": "0", "WAZIPER_NUMBER_CHECK_CACHE_S": "0"})
    assert (cfg["WAZIPER_GROUPS_CACHE_S"], cfg["WAZIPER_NUMBER_CHECK_CACHE_S"]) == (0, 0)


def test_durations_accept_decimals() -> None:
    cfg = load_waziper_settings({"WAZIPER_BREAKER_WINDOW": "0.2", "WAZIPER_CONNECT_TIMEOUT": " 1.5 "})
    assert cfg["WAZIPER_BREAKER_WINDOW"] == 0.2
    assert cfg["WAZIPER_CONNECT_TIMEOUT"] == 1.5


def test_send_delay_may_be_zero_for_benchmarks() -> None:
    cfg = load_waziper_settings({"WAZIPER_SEND_DELAY_MIN": "0", "WAZIPER_SEND_DELAY_MAX": "0"})
    assert cfg["WAZIPER_SEND_DELAY_MAX"] == 0


def test_booleans_accept_common_spellings() -> None:
    for raw, expected in [("1", True), ("yes", True), ("ON", True), ("false", False), ("0", False)]:
        assert (
            load_waziper_settings({"WAZIPER_RESEND_UNCERTAIN": raw})["WAZIPER_RESEND_UNCERTAIN"] is expected
        )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WAZIPER_BREAKER_THRESHOLD": "fifteen"}, "WAZIPER_BREAKER_THRESHOLD"),
        ({"WAZIPER_BREAKER_THRESHOLD": "0"}, "WAZIPER_BREAKER_THRESHOLD"),
        ({"WAZIPER_BREAKER_WINDOW": "-5"}, "WAZIPER_BREAKER_WINDOW"),
        ({"WAZIPER_BREAKER_WINDOW": "0"}, "WAZIPER_BREAKER_WINDOW"),
        ({"WAZIPER_BREAKER_WINDOW": "nan"}, "WAZIPER_BREAKER_WINDOW"),
        ({"WAZIPER_CONNECT_TIMEOUT": "30s"}, "WAZIPER_CONNECT_TIMEOUT"),
        ({"WAZIPER_ALLOW_PRIVATE_MEDIA_URLS": "maybe"}, "WAZIPER_ALLOW_PRIVATE_MEDIA_URLS"),
        ({"WAZIPER_DEFAULT_TRANSPORT": "baileys"}, "WAZIPER_DEFAULT_TRANSPORT"),
        ({"WAZIPER_SEND_DELAY_MIN": "-1"}, "WAZIPER_SEND_DELAY_MIN"),
        ({"WAZIPER_SEND_DELAY_MIN": "6"}, "WAZIPER_SEND_DELAY_MAX"),
        ({"WAZIPER_BREAKER_MAX_COOLDOWN": "60"}, "WAZIPER_BREAKER_MAX_COOLDOWN"),
        ({"WAZIPER_RETRY_BASE": "50"}, "WAZIPER_RETRY_CAP"),
        ({"WAZIPER_THROTTLE_RATE": "lots"}, "WAZIPER_THROTTLE_RATE"),
        ({"WAZIPER_EVENT_POLL_MS": "1"}, "WAZIPER_EVENT_POLL_MS"),
        ({"WAZIPER_WORKER_STALL_S": "0"}, "WAZIPER_WORKER_STALL_S"),
        ({"WAZIPER_SESSIONS_PER_HOST": "0"}, "WAZIPER_SESSIONS_PER_HOST"),
        ({"WAZIPER_HOST_RECYCLE_AFTER": "0"}, "WAZIPER_HOST_RECYCLE_AFTER"),
        ({"WAZIPER_HOST_RECYCLE_AFTER": "many"}, "WAZIPER_HOST_RECYCLE_AFTER"),
        ({"WAZIPER_GROUPS_CACHE_S": "-1"}, "WAZIPER_GROUPS_CACHE_S"),
        ({"WAZIPER_NUMBER_CHECK_CACHE_S": "a day"}, "WAZIPER_NUMBER_CHECK_CACHE_S"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_waziper_settings(env)


@pytest.mark.parametrize(
    "url", ["mysql://x/y", "postgres://host", "redis://localhost", "postgres://u:p@[db.local/waziper"]
)
def test_database_url_must_be_sqlite_or_postgres_with_a_name(url: str) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        check_database_url(url)


@pytest.mark.parametrize(
    "url", ["mysql://waziper:s3cr%40t@db/w", "postgres://waziper:s3cr%40t@db", "postgres://u:s3cr%40t@[db/w"]
)
def test_database_url_errors_never_print_the_password(url: str) -> None:
    # The message goes to the terminal and, under systemd, to the journal.
    with pytest.raises(SettingsError) as exc:
        check_database_url(url)
    assert "s3cr" not in str(exc.value)
    assert ":***@" in str(exc.value)


def test_manage_py_stops_with_one_line_naming_the_bad_variable() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={"PATH": "/usr/bin:/bin", "WAZIPER_BREAKER_THRESHOLD": "lots", "DJANGO_SECRET_KEY": "x" * 50},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "Configuration error: WAZIPER_BREAKER_THRESHOLD='lots' is not a whole number" in result.stderr
    assert "Traceback" not in result.stderr


def test_tenant_limits_default_to_fifty_instances_two_downloads_and_no_private_proxies() -> None:
    cfg = load_waziper_settings({})
    assert cfg["WAZIPER_MAX_INSTANCES_PER_OWNER"] == 50
    assert cfg["WAZIPER_MEDIA_DOWNLOADS_PER_OWNER"] == 2
    assert cfg["WAZIPER_ALLOW_PRIVATE_PROXY_URLS"] is False


def test_access_settings_default_to_the_documented_limits() -> None:
    cfg = load_waziper_settings({})
    assert cfg["WAZIPER_AUTH_FAILURE_RATE"] == "20/min"
    assert cfg["WAZIPER_TRUSTED_PROXIES"] == []
    assert (cfg["WAZIPER_LOGIN_FAILURE_LIMIT"], cfg["WAZIPER_LOGIN_COOLOFF"]) == (10, 900)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WAZIPER_MAX_INSTANCES_PER_OWNER": "-1"}, "WAZIPER_MAX_INSTANCES_PER_OWNER"),
        ({"WAZIPER_MEDIA_DOWNLOADS_PER_OWNER": "0"}, "WAZIPER_MEDIA_DOWNLOADS_PER_OWNER"),
        ({"WAZIPER_ALLOW_PRIVATE_PROXY_URLS": "maybe"}, "WAZIPER_ALLOW_PRIVATE_PROXY_URLS"),
        ({"WAZIPER_AUTH_FAILURE_RATE": "lots"}, "WAZIPER_AUTH_FAILURE_RATE"),
        ({"WAZIPER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.300"}, "WAZIPER_TRUSTED_PROXIES"),
        ({"WAZIPER_LOGIN_FAILURE_LIMIT": "0"}, "WAZIPER_LOGIN_FAILURE_LIMIT"),
        ({"WAZIPER_LOGIN_COOLOFF": "0"}, "WAZIPER_LOGIN_COOLOFF"),
    ],
)
def test_bad_tenant_and_access_settings_are_refused_naming_the_variable(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        load_waziper_settings(env)


def test_cors_allows_any_origin_by_default_as_waziper_does() -> None:
    assert load_waziper_settings({})["WAZIPER_CORS_ORIGINS"] == ["*"]


def test_cors_origins_may_be_listed_or_none() -> None:
    listed = {"WAZIPER_CORS_ORIGINS": "https://app.example.com, http://localhost:3000"}
    assert load_waziper_settings(listed)["WAZIPER_CORS_ORIGINS"] == [
        "https://app.example.com",
        "http://localhost:3000",
    ]
    assert load_waziper_settings({"WAZIPER_CORS_ORIGINS": ""})["WAZIPER_CORS_ORIGINS"] == []


@pytest.mark.parametrize(
    "bad", ["https://app.example.com/", "app.example.com", "https://a.example/x", "*, https://a.b"]
)
def test_a_malformed_cors_origin_names_the_variable(bad: str) -> None:
    with pytest.raises(SettingsError, match="WAZIPER_CORS_ORIGINS"):
        load_waziper_settings({"WAZIPER_CORS_ORIGINS": bad})


def test_creating_instances_on_first_use_is_off_unless_asked_for() -> None:
    assert load_waziper_settings({})["WAZIPER_CREATE_INSTANCE_ON_FIRST_USE"] is False
    on = {"WAZIPER_CREATE_INSTANCE_ON_FIRST_USE": "true"}
    assert load_waziper_settings(on)["WAZIPER_CREATE_INSTANCE_ON_FIRST_USE"] is True


def test_inbox_settings_default_to_thirty_days_sixteen_mebibytes_and_thirty_seconds() -> None:
    cfg = load_waziper_settings({})
    assert cfg["WAZIPER_INBOX_RETENTION_DAYS"] == 30
    assert cfg["WAZIPER_INBOX_MEDIA_MAX_BYTES"] == 16 * 2**20
    assert cfg["WAZIPER_INBOX_MEDIA_TIMEOUT"] == 30


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WAZIPER_INBOX_RETENTION_DAYS": "0"}, "WAZIPER_INBOX_RETENTION_DAYS"),
        ({"WAZIPER_INBOX_MEDIA_MAX_BYTES": "lots"}, "WAZIPER_INBOX_MEDIA_MAX_BYTES"),
        ({"WAZIPER_INBOX_MEDIA_TIMEOUT": "-5"}, "WAZIPER_INBOX_MEDIA_TIMEOUT"),
    ],
)
def test_bad_inbox_settings_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_waziper_settings(env)


def test_session_hosts_default_to_ten_sessions_and_a_recycle_after_fifty_failed_dials() -> None:
    cfg = load_waziper_settings({})
    assert (cfg["WAZIPER_SESSIONS_PER_HOST"], cfg["WAZIPER_HOST_RECYCLE_AFTER"]) == (10, 50)
    cfg = load_waziper_settings({"WAZIPER_SESSIONS_PER_HOST": "1", "WAZIPER_HOST_RECYCLE_AFTER": "5"})
    assert (cfg["WAZIPER_SESSIONS_PER_HOST"], cfg["WAZIPER_HOST_RECYCLE_AFTER"]) == (1, 5)


def test_webhook_settings_default_to_the_documented_figures() -> None:
    cfg = load_waziper_settings({})
    assert cfg["WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS"] is False
    assert cfg["WAZIPER_WEBHOOK_SECRET_OVERLAP"] == 24 * 3600
    assert (cfg["WAZIPER_WEBHOOK_CONNECT_TIMEOUT"], cfg["WAZIPER_WEBHOOK_TIMEOUT"]) == (5, 15)
    assert (cfg["WAZIPER_WEBHOOK_CONCURRENCY"], cfg["WAZIPER_WEBHOOK_PER_ENDPOINT"]) == (16, 2)
    assert cfg["WAZIPER_WEBHOOK_RETRY_SCALE"] == 1.0
    assert (cfg["WAZIPER_WEBHOOK_BREAKER_THRESHOLD"], cfg["WAZIPER_WEBHOOK_BREAKER_COOLDOWN"]) == (10, 10)
    assert cfg["WAZIPER_WEBHOOK_LEASE_TTL"] == 30


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS": "maybe"}, "WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS"),
        ({"WAZIPER_WEBHOOK_RETRY_SCALE": "0"}, "WAZIPER_WEBHOOK_RETRY_SCALE"),
        ({"WAZIPER_WEBHOOK_PER_ENDPOINT": "0"}, "WAZIPER_WEBHOOK_PER_ENDPOINT"),
        ({"WAZIPER_WEBHOOK_TIMEOUT": "2", "WAZIPER_WEBHOOK_CONNECT_TIMEOUT": "3"}, "WAZIPER_WEBHOOK_TIMEOUT"),
        ({"WAZIPER_WEBHOOK_BREAKER_MAX_COOLDOWN": "5"}, "WAZIPER_WEBHOOK_BREAKER_MAX_COOLDOWN"),
        ({"WAZIPER_WEBHOOK_POLL_MS": "1"}, "WAZIPER_WEBHOOK_POLL_MS"),
        ({"WAZIPER_WEBHOOK_SECRET_OVERLAP": "-1"}, "WAZIPER_WEBHOOK_SECRET_OVERLAP"),
    ],
)
def test_bad_webhook_settings_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_waziper_settings(env)
