"""An operator in a real browser: links a sandbox phone by its live QR code, resets a breaker."""

from __future__ import annotations

import io
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from breaker.models import BreakerState
from instances.models import Instance
from instances.service import create_instance, request_running
from tests.support.browser import Server, screenshot
from tests.support.processes import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def decode_qr(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert found, "no QR code in the image"
    return found[0].text


def open_link_phone(page: Any, server: Server, instance: Instance) -> None:
    page.goto(f"{server.url}/admin/instances/instance/")
    page.click(f"a[href='/admin/dashboard/instances/{instance.instance_id}/']")
    page.wait_for_selector("#wz-conn:text('live')")


def test_an_operator_scans_the_live_qr_of_a_sandbox_phone_and_sees_it_connect(
    page: Any, server: Server, operator: Any
) -> None:
    instance = create_instance(operator, name="shop", transport="sandbox")
    create_instance(operator, name="backup", transport="sandbox")
    open_link_phone(page, server, instance)
    page.click("button[data-action=start]")
    page.wait_for_selector("#wz-qr-box:not([hidden])")
    instance.refresh_from_db()
    # What the browser drew decodes to the QR string the worker wrote.
    assert decode_qr(page.locator("#wz-qr").screenshot()) == instance.last_qr
    assert page.inner_text("#wz-countdown").startswith("Expires in")
    screenshot(page, "link-phone-qr.png")

    page.click("button[data-action=scan]")
    page.wait_for_selector("#wz-connected:not([hidden])")
    assert "Connected as +628" in page.inner_text("#wz-connected")
    assert page.is_hidden("#wz-qr-box")
    screenshot(page, "link-phone-connected.png")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "link-phone-mobile.png")


def test_an_operator_resets_a_tripped_breaker_and_the_page_shows_it_closed(
    page: Any, server: Server, operator: Any
) -> None:
    instance = create_instance(operator, name="flaky", transport="sandbox", sandbox={"connect": "fail"})
    request_running(instance)
    open_link_phone(page, server, instance)
    page.wait_for_selector("#wz-breaker-state.wz-breaker-open")
    assert page.inner_text("#wz-status") == "circuit breaker open"
    screenshot(page, "link-phone-breaker-open.png")

    # The network is mended; the operator resets the breaker instead of waiting out the cooldown.
    Instance.objects.filter(pk=instance.pk).update(sandbox={})
    page.click("button[data-action=reset-breaker]")
    page.wait_for_selector("#wz-breaker-state.wz-breaker-closed")
    page.wait_for_selector("#wz-qr-box:not([hidden])")  # reconnected at once: a QR code to scan
    wait_until(lambda: BreakerState.objects.get(instance=instance).state == "closed", timeout=5)
    page.goto(f"{server.url}/admin/dashboard/?hours=1")
    assert page.is_visible("svg.wz-chart")
    screenshot(page, "health.png")
