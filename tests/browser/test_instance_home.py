"""An operator in a real browser: the instance list fits a 1280 px screen, and an instance's page is
its home, where a tripped breaker is reset without leaving it."""

from __future__ import annotations

from typing import Any

import pytest

from breaker.models import BreakerState
from instances.models import Instance
from instances.service import create_instance, request_running
from tests.support.browser import Server, screenshot
from tests.support.processes import wait_until
from tests.support.queue import queue_many

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Right edges of the cells an operator must reach, against the viewport and the table's scroll box
# (the admin scrolls a wide table inside `.results`, so the page itself never shows a scrollbar).
MEASURE = """() => {
  const results = document.querySelector('#changelist-form .results');
  const box = results.getBoundingClientRect();
  const cells = ['.field-link_phone a', '.field-breaker_badge .wz-badge', '.field-queue a'];
  return {
    page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
    table: [results.scrollWidth, results.clientWidth],
    rightmost: Math.max(...cells.flatMap(s => [...document.querySelectorAll(s)])
      .map(c => c.getBoundingClientRect().right)),
    limit: Math.min(box.right, window.innerWidth),
    cells: cells.map(s => document.querySelectorAll(s).length),
  };
}"""


def test_the_list_fits_1280_px_and_the_instance_page_resets_a_tripped_breaker(
    page: Any, server: Server, operator: Any
) -> None:
    flaky = create_instance(operator, name="flaky", transport="sandbox", sandbox={"connect": "fail"})
    shop = create_instance(operator, name="shop", transport="sandbox")
    create_instance(operator, name="front desk support line", transport="neonize")
    queue_many(shop, 3)
    request_running(flaky)
    request_running(shop)
    wait_until(lambda: BreakerState.objects.filter(instance=flaky, state="open").exists(), timeout=30)
    wait_until(lambda: Instance.objects.get(pk=shop.pk).status == "qr_pending", timeout=30)

    page.goto(f"{server.url}/admin/instances/instance/")
    figures = page.evaluate(MEASURE)
    assert figures["page"][0] <= figures["page"][1]  # no sideways scrolling of the page
    assert figures["table"][0] <= figures["table"][1]  # nor of the table inside it
    assert figures["cells"] == [3, 3, 3]
    assert figures["rightmost"] <= figures["limit"]
    for cell in ("td.field-link_phone", "td.field-breaker_badge", "td.field-queue"):
        assert page.locator(cell).first.is_visible()
    screenshot(page, "instances.png")

    page.click(f"a:text-is('{flaky.instance_id}')")
    page.wait_for_url(f"**/admin/instances/instance/{flaky.pk}/change/")
    assert page.is_visible("#wz-home")
    assert page.is_visible("#wz-breaker-state.wz-breaker-open")
    assert page.inner_text("#wz-status") == "circuit breaker open"
    assert page.is_hidden("#id_sandbox")  # the raw fields wait behind "Advanced"

    # The network is mended; the operator resets the breaker from the instance's own page.
    Instance.objects.filter(pk=flaky.pk).update(sandbox={})
    page.click("button[data-action=reset-breaker]")
    page.wait_for_url(f"**/admin/instances/instance/{flaky.pk}/change/")
    assert page.is_visible("#wz-breaker-state.wz-breaker-closed")
    assert "reset (was open)" in page.inner_text("ul.messagelist")
    # The worker reconnects at once: the page, reloaded, shows the QR code waiting for a scan.
    wait_until(lambda: Instance.objects.get(pk=flaky.pk).status == "qr_pending", timeout=10)
    page.reload()
    assert page.inner_text("#wz-status") == "waiting for QR scan"
    screenshot(page, "instance-home.png")
