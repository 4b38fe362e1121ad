"""Damage and a full disk at the store: found at open, kept aside, and never half-written."""

from __future__ import annotations

import errno
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from engine.store import ChunkRow, DatabaseCorruptError, DiskFullError, Store
from engine.store.disk import is_disk_full
from engine.store.integrity import (
    FOLDER_LIST_FILE,
    check_file,
    is_corruption,
    load_folder_list,
    salvage_folders,
    set_aside,
)
from tests.helpers.data_faults import flip_pages, integrity


def _filled(data_dir: Path, files: int = 60) -> Path:
    store = Store.open_in(data_dir)
    folder = store.pin_folder("/docs")
    for i in range(files):
        chunks = [ChunkRow(o, 0, 10, None, None, f"passage {o} of file {i} " * 20)
                  for o in range(5)]
        store.record_file(folder_id=folder, path=f"/docs/f{i}.txt", size=1, mtime=1.0,
                          hash=None, kind="text", state="indexed", chunks=chunks)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return data_dir / "dowse.sqlite3"


def test_flipped_pages_are_found_at_open_with_check(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    assert check_file(db) is None
    Store.open_in(tmp_path, check=True).close()
    flip_pages(db, first_page=8, pages=3, seed=1)
    assert check_file(db) is not None
    with pytest.raises(DatabaseCorruptError, match="damaged"):
        Store.open_in(tmp_path, check=True)
    Store.open_in(tmp_path).close()  # without the check, opening reads the header only


def test_a_broken_header_is_found_even_without_the_check(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    with open(db, "r+b") as handle:
        handle.write(b"this is not sqlite at all")
    with pytest.raises(DatabaseCorruptError, match="not a database"):
        Store.open_in(tmp_path)
    assert check_file(db) is not None


def test_set_aside_keeps_the_file_and_its_wal_byte_for_byte(tmp_path: Path) -> None:
    db = _filled(tmp_path)
    wal = Path(str(db) + "-wal")
    wal.write_bytes(b"wal frames")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    kept = set_aside(db)
    assert not db.exists() and not wal.exists()
    assert kept.name.startswith("dowse.sqlite3.corrupt-")
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == before
    assert Path(str(kept) + "-wal").read_bytes() == b"wal frames"
    db.write_bytes(b"")  # a second one the same second gets its own name
    assert set_aside(db) != kept


def test_pinned_folders_survive_in_the_database_and_beside_it(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    store.pin_folder("/a")
    store.pin_folder("/b")
    store.pin_folder("/odd-\udcff")  # a name that is not UTF-8
    store.unpin_folder("/b")
    store.close()
    assert load_folder_list(tmp_path) == ["/a", "/odd-\udcff"]
    assert json.loads((tmp_path / FOLDER_LIST_FILE).read_text())  # plain JSON on disk
    assert salvage_folders(tmp_path / "dowse.sqlite3") == ["/a", "/odd-\udcff"]
    (tmp_path / "dowse.sqlite3").write_bytes(b"garbage" * 1000)
    assert salvage_folders(tmp_path / "dowse.sqlite3") == []
    assert load_folder_list(tmp_path) == ["/a", "/odd-\udcff"]


def test_a_full_database_rolls_back_whole_and_the_store_goes_on(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    pages = int(store.conn.execute("PRAGMA page_count").fetchone()[0])
    store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL, as on a full disk
    big = [ChunkRow(o, 0, 10, None, None, f"words {o} " * 400) for o in range(40)]
    with pytest.raises(DiskFullError) as raised:
        store.record_file(folder_id=folder, path="/docs/big.txt", size=1, mtime=1.0,
                          hash=None, kind="text", state="indexed", chunks=big)
    assert raised.value.errno == errno.ENOSPC and is_disk_full(raised.value)
    assert not store.conn.in_transaction
    assert store.file_by_path("/docs/big.txt") is None
    assert store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 0
    store.conn.execute("PRAGMA max_page_count = 1000000")
    store.record_file(folder_id=folder, path="/docs/big.txt", size=1, mtime=1.0, hash=None,
                      kind="text", state="indexed", chunks=big)
    store.close()
    assert integrity(tmp_path / "dowse.sqlite3") == "ok"


def test_errors_are_told_apart() -> None:
    malformed = sqlite3.DatabaseError("database disk image is malformed")
    full = sqlite3.OperationalError("database or disk is full")
    assert is_corruption(malformed) and not is_disk_full(malformed)
    assert is_disk_full(full) and not is_corruption(full)
    assert is_disk_full(OSError(errno.ENOSPC, "no space")) and is_disk_full(DiskFullError("x"))
    assert is_disk_full(OSError(errno.EDQUOT, "quota"))
    assert not is_disk_full(OSError(errno.EIO, "io")) and not is_corruption(OSError("x"))
    assert not is_corruption(sqlite3.OperationalError("database is locked"))
