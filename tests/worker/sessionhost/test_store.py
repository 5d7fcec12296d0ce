"""A session store: created private, tightened when opened, read for a linked device, and
refused with a clear reason when it cannot be used."""

from __future__ import annotations

import sqlite3

from worker.sessionhost import store as store_module


def test_a_missing_store_is_created_and_holds_no_device(tmp_path):
    store = tmp_path / "sessions" / "ABC"
    assert store_module.check_store(str(store)) == (None, False)
    assert store.is_dir()


def test_opening_a_store_makes_its_directories_and_files_private(tmp_path):
    store, nested = tmp_path / "S1", tmp_path / "S1" / "media"
    nested.mkdir(parents=True)
    for path in (store / store_module.STORE_FILE, store / f"{store_module.STORE_FILE}-wal", nested / "x.bin"):
        path.write_bytes(b"")
        path.chmod(0o644)
    for path in (store, nested):
        path.chmod(0o755)
    store_module.check_store(str(store))
    modes = {str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777 for p in [store, *store.rglob("*")]}
    assert modes == {
        "S1": 0o700,
        "S1/media": 0o700,
        "S1/media/x.bin": 0o600,
        f"S1/{store_module.STORE_FILE}": 0o600,
        f"S1/{store_module.STORE_FILE}-wal": 0o600,
    }


def test_making_a_store_private_leaves_symbolic_links_and_their_targets_alone(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"")
    outside.chmod(0o644)
    store = tmp_path / "S1"
    store.mkdir()
    (store / "link").symlink_to(outside)
    store_module.check_store(str(store))
    assert outside.stat().st_mode & 0o777 == 0o644


def test_a_store_with_a_device_row_counts_as_logged_in(tmp_path):
    with sqlite3.connect(tmp_path / store_module.STORE_FILE) as con:
        con.execute("CREATE TABLE whatsmeow_device (jid TEXT)")
        con.execute("INSERT INTO whatsmeow_device VALUES ('628111:7@s.whatsapp.net')")
    assert store_module.check_store(str(tmp_path)) == (None, True)


def test_a_corrupt_store_needs_a_relink(tmp_path):
    (tmp_path / store_module.STORE_FILE).write_bytes(b"\x00garbage" * 512)
    problem, has_device = store_module.check_store(str(tmp_path))
    assert "is corrupt (file is not a database): re-link required" in problem
    assert has_device is False


def test_a_store_path_sqlite_cannot_take_is_refused(tmp_path):
    problem, _ = store_module.check_store(str(tmp_path / "a?b"))
    assert "must not contain" in problem
