"""neonize in two halves: its Python half imported before a fork, its Go half after it.

The fork server (forkserver.py) imports once what every session host needs and then forks hosts
that start with all of it already in memory, shared copy-on-write. Two neonize modules must not
be imported before the fork:

* ``neonize._binder`` loads the Go shared library, and loading it starts the Go runtime (its
  threads, its signal handlers). A Go runtime does not survive ``fork()``: the child keeps its
  memory but none of its threads.
* ``neonize.utils.log`` starts a Python thread at import (the consumer of Go's log queue).
  ``fork()`` keeps only the forking thread, so a child would queue Go's log lines forever.

Every module that imports one of them waits for the fork too. The rest of neonize, and the
third-party libraries it pulls in (protobuf and its generated modules, PIL, bs4, httpx,
requests, segno, ...), are imported before it. This module imports no neonize module itself
at import time.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

PACKAGE = "neonize"
HELD_BACK = frozenset({"neonize._binder", "neonize.utils.log"})
_MARK = "__waziper_half_imported__"


class _HeldBack(BaseException):
    """Raised by the finder below. Not an ImportError, so that no module's ``except
    ImportError`` fallback can swallow it and carry on half-configured."""


class _HoldBack(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in HELD_BACK:
            raise _HeldBack(fullname)
        return None


def _submodules(package_dir: str) -> list[str]:
    names = []
    for dirpath, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(dirpath, package_dir)
        base = PACKAGE if rel == "." else f"{PACKAGE}.{rel.replace(os.sep, '.')}"
        for name in sorted(files):
            if name.endswith(".py"):
                module = base if name == "__init__.py" else f"{base}.{name[:-3]}"
                if module != PACKAGE:
                    names.append(module)
    return names


def preload_neonize() -> tuple[int, list[str]]:
    """Import every neonize module that needs neither of HELD_BACK, and the libraries they use.
    The package itself is left registered but not executed: its ``__init__`` loads the Go
    library, so finish_neonize() runs it after the fork. Returns (modules imported, modules
    left for after the fork). A neonize that is not installed preloads nothing."""
    if PACKAGE in sys.modules:
        raise RuntimeError("neonize is already imported: too late to import it in halves")
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return 0, []
    package = importlib.util.module_from_spec(spec)
    setattr(package, _MARK, True)
    sys.modules[PACKAGE] = package
    finder = _HoldBack()
    sys.meta_path.insert(0, finder)
    imported, later = 0, []
    try:
        for name in _submodules(spec.submodule_search_locations[0]):
            try:
                importlib.import_module(name)
                imported += 1
            except _HeldBack:
                later.append(name)
            except Exception:  # a module the host never imports may not even import (a stale
                later.append(name)  # generated file): left for the host, which never asks for it
    finally:
        sys.meta_path.remove(finder)
    return imported, later


def finish_neonize() -> None:
    """In a host forked with neonize half-imported: run the package's ``__init__`` now, which
    imports the held-back modules and so loads the Go library in this process. A no-op where
    neonize was not preloaded (a host started on its own)."""
    package = sys.modules.get(PACKAGE)
    if package is None or not getattr(package, _MARK, False):
        return
    delattr(package, _MARK)
    assert package.__spec__ is not None and package.__spec__.loader is not None
    package.__spec__.loader.exec_module(package)


def go_runtime_loaded() -> bool:
    """Is any Go shared library mapped into this process? (The fork server checks it never is.)"""
    with open("/proc/self/maps") as maps:
        return any(f"{PACKAGE}-" in line and line.rstrip().endswith(".so") for line in maps)
