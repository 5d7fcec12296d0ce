"""neonize's generated protobuf classes, loaded straight from its ``proto`` directory so that a
test process never loads neonize's Go library (importing ``neonize`` would)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any


def load() -> tuple[Any, Any]:
    """(Neonize_pb2: events, JIDs, MessageInfo; WAWebProtobufsE2E_pb2: WhatsApp's messages)."""
    if "neonize.proto.Neonize_pb2" not in sys.modules:
        spec = importlib.util.find_spec("neonize")
        assert spec is not None and spec.submodule_search_locations is not None
        proto_dir = str(Path(spec.submodule_search_locations[0]) / "proto")
        if proto_dir not in sys.path:
            sys.path.insert(0, proto_dir)
    pb = sys.modules.get("neonize.proto.Neonize_pb2") or importlib.import_module("Neonize_pb2")
    return pb, importlib.import_module("waE2E.WAWebProtobufsE2E_pb2")
