"""Browser tests: Playwright drives Debian's chromium (never a downloaded browser) against a real
`manage.py serve` (daphne + worker child) on loopback, on the test database."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, FAST, PASSWORD, Server
from tests.support.processes import free_port, manage_py, wait_for_http


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("WAZIPER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and WAZIPER_REQUIRE_BROWSER=1 (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop under this thread, which makes Django refuse ORM
    # calls from the test body; the test is still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def server(settings: Any, tmp_path: Path) -> Iterator[Server]:
    """`manage.py serve` with its worker, on the test database, until the test ends."""
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = manage_py(settings, "serve", "--port", str(port), output=out, **FAST)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        yield Server(f"http://127.0.0.1:{port}", log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def operator(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("operator", "operator@example.com", PASSWORD)


@pytest.fixture
def page(chromium: Any, server: Server, operator: Any) -> Iterator[Any]:
    """A logged-in admin page, phone-sized screenshots aside."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{server.url}/admin/login/")
    page.fill("#id_username", operator.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server.url}/admin/")
    try:
        yield page
    finally:
        context.close()
