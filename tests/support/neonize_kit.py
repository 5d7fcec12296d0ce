"""neonize's pure-Python parts for in-process tests, without its Go library.

`import neonize` runs neonize/__init__.py, which loads the Go core (a runtime with its own
threads and signal handlers) into the test process. The generated protobuf classes, the
builders module and the enums need none of it, so they are loaded here under a bare `neonize`
package that skips that __init__. The session host itself loads neonize for real
(worker/sessionhost/main.py _load_neonize); what this returns has the same names.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from types import SimpleNamespace
from typing import Any


def _bare_neonize() -> None:
    if "neonize" in sys.modules:
        return
    spec = importlib.util.find_spec("neonize")
    assert spec is not None and spec.submodule_search_locations is not None
    package = types.ModuleType("neonize")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["neonize"] = package


def kit() -> SimpleNamespace:
    """What main.py's _load_neonize gives worker/sessionhost/builders.py, from the real modules."""
    _bare_neonize()
    builder = importlib.import_module("neonize.builder")
    neonize_pb = importlib.import_module("neonize.proto.Neonize_pb2")
    e2e = importlib.import_module("neonize.proto.waE2E.WAWebProtobufsE2E_pb2")
    enums = importlib.import_module("neonize.utils.enum")
    assert "neonize._binder" not in sys.modules, "the Go library must not load in the test process"
    return SimpleNamespace(
        Message=e2e.Message,
        JID=neonize_pb.JID,
        build_edit=builder.build_edit,
        ChatPresence=enums.ChatPresence,
        ChatPresenceMedia=enums.ChatPresenceMedia,
        VoteType=enums.VoteType,
        # Not part of the host's kit: for tests that build what the fake client answers.
        e2e=e2e,
        pb=neonize_pb,
    )


def message_to_dict(message: Any) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(message, preserving_proto_field_name=True)
