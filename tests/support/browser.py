"""What browser tests share: Debian's chromium and how it is started, the compressed timings the
served gateway runs with, and screenshots."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The README's screenshots are refreshed only on request (WAZIPER_SAVE_SCREENSHOTS=1), so an
# ordinary test run never rewrites tracked files.
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("WAZIPER_SAVE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "waziper-screenshots"
)
# Compressed time: retries in milliseconds, a breaker that trips after three failures.
FAST = {
    "WAZIPER_RETRY_BASE": "0.01",
    "WAZIPER_RETRY_CAP": "0.02",
    "WAZIPER_LEASE_TTL": "1.5",
    "WAZIPER_BREAKER_THRESHOLD": "3",
}
PASSWORD = "operator-pass-123"


@dataclass(frozen=True)
class Server:
    url: str
    log: Path


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
