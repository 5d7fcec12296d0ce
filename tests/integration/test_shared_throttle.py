"""Two real web processes on one database count against the same throttles: failed
authentications per client address, and requests per token."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import DAPHNE, SERVE, free_port, start_web, stop, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@contextmanager
def two_web_processes(settings: Any, tmp_path: Path, **env: str) -> Iterator[list[str]]:
    started = []
    try:
        for n, command in enumerate([SERVE, DAPHNE]):
            port = free_port()
            started.append((start_web(settings, command, port, tmp_path / f"web-{n}.log", **env), port))
        for proc, port in started:
            wait_for_http(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        yield [f"http://127.0.0.1:{port}" for _, port in started]
    finally:
        for proc, _ in started:
            stop(proc)


def test_bad_tokens_sent_to_two_processes_use_up_one_shared_allowance(
    owner_token: str, settings: Any, tmp_path: Path
) -> None:
    with two_web_processes(settings, tmp_path, WAZIPER_AUTH_FAILURE_RATE="6/h") as (first, second):
        alternating = [get(f"{base}/instances?access_token=wzp_guess") for base in [first, second] * 3]
        locked_out = [get(f"{base}/instances?access_token={owner_token}") for base in (first, second)]
    assert alternating == [401] * 6
    assert locked_out == [429, 429]


def test_a_tokens_request_rate_is_shared_by_both_processes(
    owner_token: str, settings: Any, tmp_path: Path
) -> None:
    with two_web_processes(settings, tmp_path, WAZIPER_THROTTLE_RATE="4/h") as (first, second):
        statuses = [get(f"{base}/instances?access_token={owner_token}") for base in [first, second] * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]
