"""A session's store: the directory whatsmeow keeps a linked account's keys in.

It holds what lets anyone act as that WhatsApp account, so it is private to the host's user,
and a store that cannot be read says so (a corrupt one needs the phone linked again).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
from pathlib import Path

from worker.sessionhost import protocol as p

log = logging.getLogger("waziper.host")

STORE_FILE = "whatsmeow.sqlite3"  # inside the session's store directory
# A store holds the keys of a linked WhatsApp account: only the host's user may read it.
STORE_DIR_MODE = 0o700
STORE_FILE_MODE = 0o600


def make_private(store: str) -> None:
    """Directories 0700 and files 0600 inside `store`: stores made before the host set its umask
    (0755/0644) are tightened when the host opens them. Symbolic links are left alone."""
    for root, _dirs, files in os.walk(store):
        modes = [(root, STORE_DIR_MODE), *((os.path.join(root, f), STORE_FILE_MODE) for f in files)]
        for path, mode in modes:
            try:
                st = os.lstat(path)
                if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & ~mode:
                    os.chmod(path, mode)
            except OSError as exc:  # not ours, or gone: the store still works, say so
                log.warning("cannot make %s private: %s", path, exc.strerror or exc)


def check_store(store: str) -> tuple[str | None, bool]:
    """Return (problem, has_device) for a session store directory, creating it when missing
    (0700) and making an existing one private (see make_private)."""
    if any(c in store for c in "?#%"):  # neonize builds a sqlite URI from the path
        return f"session store path {store!r} must not contain '?', '#' or '%'", False
    try:
        Path(store).mkdir(mode=STORE_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot use session store {store}: {exc.strerror or exc}", False
    make_private(store)
    db = Path(store) / STORE_FILE
    if not db.exists():
        return None, False
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=2)) as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            has = "whatsmeow_device" in tables and con.execute("SELECT 1 FROM whatsmeow_device").fetchone()
    except sqlite3.DatabaseError as exc:
        if p.is_store_corruption(str(exc)):
            return f"session store {db} is corrupt ({exc}): re-link required", False
        return f"cannot read session store {db}: {exc}", False
    return None, bool(has)
