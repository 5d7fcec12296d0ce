"""neonize imported in two halves, in a fresh interpreter each time: the pytest process must
not import neonize (it would load a Go runtime into it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]

PROBE = """
import json, os, sys
from worker.sessionhost import preload
before = preload.go_runtime_loaded()
imported, later = preload.preload_neonize()
half = {
    "go": preload.go_runtime_loaded(),
    "threads": len(os.listdir("/proc/self/task")),
    "imported": imported,
    "later": later,
    "loaded": sorted(m for m in ("google.protobuf", "PIL.Image", "bs4", "httpx", "neonize.proto.Neonize_pb2",
                                  "neonize.aioze.events", "neonize.aioze.client", "neonize._binder")
                     if m in sys.modules),
}
preload.finish_neonize()
from neonize.aioze.client import NewAClient
import neonize
whole = {"go": preload.go_runtime_loaded(), "version": neonize.__version__, "client": NewAClient.__name__}
print(json.dumps({"before": before, "half": half, "whole": whole}))
"""


def probe(code: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_python_half_loads_without_the_go_library_or_any_thread_and_the_rest_after():
    found = probe(PROBE)
    half = found["half"]
    assert found["before"] is False
    assert half["go"] is False
    assert half["threads"] == 1
    assert {"neonize._binder", "neonize.utils.log", "neonize.aioze.client"} <= set(half["later"])
    # neonize's generated protobuf modules and its third-party libraries are in memory already
    assert half["loaded"] == [
        "PIL.Image",
        "bs4",
        "google.protobuf",
        "httpx",
        "neonize.aioze.events",
        "neonize.proto.Neonize_pb2",
    ]
    assert half["imported"] > 50
    assert found["whole"] == {"go": True, "version": "0.5.2", "client": "NewAClient"}


def test_finishing_without_a_preload_changes_nothing():
    code = (
        "import json, sys\nfrom worker.sessionhost import preload\npreload.finish_neonize()\n"
        "print(json.dumps({'neonize': 'neonize' in sys.modules, 'go': preload.go_runtime_loaded()}))"
    )
    assert probe(code) == {"neonize": False, "go": False}


def test_preloading_after_neonize_was_imported_is_refused():
    code = (
        "import json\nimport neonize\nfrom worker.sessionhost import preload\n"
        "try:\n    preload.preload_neonize()\nexcept RuntimeError as exc:\n"
        "    print(json.dumps({'refused': str(exc)}))"
    )
    assert "already imported" in probe(code)["refused"]
