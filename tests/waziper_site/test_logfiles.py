"""Log files are private to their user (0600), from the first line and after every rotation."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from waziper_site.logfiles import PrivateRotatingFileHandler

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what most services run with: new files 0644
    yield
    os.umask(old)


def write(handler: logging.Handler, text: str) -> None:
    handler.emit(logging.LogRecord("waziper", logging.INFO, __file__, 1, text, None, None))


def test_a_new_log_file_is_0600(tmp_path: Path, permissive_umask: None) -> None:
    handler = PrivateRotatingFileHandler(tmp_path / "server.log", delay=True)
    write(handler, "hello")
    handler.close()
    assert mode(tmp_path / "server.log") == 0o600


def test_files_stay_0600_after_a_rotation(tmp_path: Path, permissive_umask: None) -> None:
    handler = PrivateRotatingFileHandler(tmp_path / "server.log", maxBytes=100, backupCount=2)
    for i in range(20):
        write(handler, f"line {i} " + "x" * 40)
    handler.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["server.log", "server.log.1", "server.log.2"]
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_a_log_file_left_readable_by_others_is_tightened(tmp_path: Path) -> None:
    old = tmp_path / "server.log"
    old.write_text("from an older version\n")
    old.chmod(0o644)
    handler = PrivateRotatingFileHandler(old)
    write(handler, "hello")
    handler.close()
    assert mode(old) == 0o600
    assert old.read_text().splitlines() == ["from an older version", "hello"]


def test_the_sites_log_file_is_0600(tmp_path: Path) -> None:
    code = "import logging; logging.getLogger('waziper').warning('a line for the file')"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**os.environ, "WAZIPER_LOG_DIR": str(tmp_path / "logs")},
        check=True,
        capture_output=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    log = tmp_path / "logs" / "server.log"
    assert "a line for the file" in log.read_text()
    assert (mode(log), mode(log.parent)) == (0o600, 0o700)
