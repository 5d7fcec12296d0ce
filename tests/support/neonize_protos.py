"""neonize's own protobuf classes and enums, loaded without its Go library: what tests build the
answers of a real WhatsApp session from (a phone is never reachable here).

neonize's package __init__ loads its Go library; its `proto` directory and the enums module do
not need it, so they are loaded straight from their files. The classes are the very ones the
session host gets from neonize (its proto directory is on sys.path under the same names).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from enum import Enum
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def _proto_dir() -> Path:
    spec = importlib.util.find_spec("neonize")
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "proto"


def _load() -> Any:
    if "neonize.proto.Neonize_pb2" in sys.modules:
        return sys.modules["neonize.proto.Neonize_pb2"]
    proto_dir = str(_proto_dir())
    if proto_dir not in sys.path:
        sys.path.insert(0, proto_dir)
    return importlib.import_module("Neonize_pb2")


pb = _load()


class ParticipantChange(Enum):
    """neonize.utils.enum.ParticipantChange (that module imports libmagic and the Go library)."""

    ADD = "add"
    REMOVE = "remove"
    PROMOTE = "promote"
    DEMOTE = "demote"


class ReceiptType(Enum):
    """neonize.utils.enum.ReceiptType's READ, the one receipt the gateway sends."""

    READ = b"read"


def kit() -> SimpleNamespace:
    """What the session host hands the query ops (main._load_neonize builds the real one)."""
    return SimpleNamespace(JID=pb.JID, ParticipantChange=ParticipantChange, ReceiptType=ReceiptType)


def jid(text: str) -> Any:
    """A JID as neonize.utils.jid.build_jid makes one: every field set, so it equals the ones
    the host builds (these protobuf fields have presence: an unset 0 is not a set 0)."""
    user, server = text.split("@")
    return pb.JID(User=user, Server=server, Device=0, Integrator=0, IsEmpty=False, RawAgent=0)


def load() -> tuple[Any, Any]:
    """(Neonize_pb2: events, JIDs, MessageInfo; WAWebProtobufsE2E_pb2: WhatsApp's messages)."""
    return pb, importlib.import_module("waE2E.WAWebProtobufsE2E_pb2")
