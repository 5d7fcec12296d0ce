from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _settings(env: dict[str, str]) -> list[str]:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='waziper_site.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)"
    )
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SECRET_KEY": "x" * 50}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_https_mode_secures_cookies_and_redirects() -> None:
    assert _settings({"DJANGO_HTTPS": "true"}) == ["True", "True", "True", "31536000"]


def test_plain_http_is_the_default_for_the_embedded_setup() -> None:
    assert _settings({}) == ["False", "False", "False", "0"]
