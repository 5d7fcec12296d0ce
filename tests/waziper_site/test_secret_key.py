from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_secret_key_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    key_file = tmp_path / "secret"
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SECRET_KEY_FILE": str(key_file)}
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    runs = [
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='waziper_site.settings'; "
                f"django.setup(); {code}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs[0] == runs[1] == key_file.read_text().strip()
    assert len(runs[0]) >= 50
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
