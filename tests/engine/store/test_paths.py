"""Paths that are not UTF-8 text go into SQLite and come back exactly, by every lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.search.searcher import SearchFilters
from engine.store import ChunkRow, Store
from engine.store import queue as work_queue
from engine.store.paths import path_from_db, path_to_db

LATIN1 = os.fsdecode(b"/pinned/caf\xe9.txt")  # "/pinned/caf\udce9.txt"
ODD_FOLDER = os.fsdecode(b"/pinned/old-\xff")
NAMES = ["/pinned/plain.txt", LATIN1, "/pinned/two\nlines.txt", "/pinned/bell\x07.txt",
         ODD_FOLDER + "/inside.txt", "/pinned/é-nfc.txt"]


@pytest.mark.parametrize("path", NAMES)
def test_each_path_round_trips(path: str) -> None:
    stored = path_to_db(path)
    assert path_from_db(stored) == path
    assert isinstance(stored, bytes) == ("\udc80" <= max(path) <= "\udcff" or ODD_FOLDER in path)


def test_a_surrogate_no_name_decodes_to_matches_nothing_but_never_raises() -> None:
    assert isinstance(path_to_db("/x/\ud800"), bytes)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "dowse.sqlite3")
    folder = store.pin_folder("/pinned")
    for path in NAMES:
        store.record_file(
            folder_id=folder, path=path, size=1, mtime=1.0, hash=None, kind="text",
            state="indexed", chunks=[ChunkRow(0, 0, 5, None, None, f"words {len(path)}")],
        )
    store.record_file(folder_id=folder, path=os.fsdecode(b"/pinned/bad\xfe.docx"), size=0,
                      mtime=1.0, hash=None, kind=None, state="failed", error="corrupt DOCX")
    return store


def test_every_lookup_finds_what_was_stored(store: Store) -> None:
    folder_id = store.folders()[0][0]
    assert set(store.files_in_folder(folder_id)) == {*NAMES, os.fsdecode(b"/pinned/bad\xfe.docx")}
    for path in NAMES:
        row = store.file_by_path(path)
        assert row is not None and row.path == path
        assert store.file_text(path) is not None
    stored = dict(store.conn.execute("SELECT path, typeof(path) FROM files").fetchall())
    assert stored[os.fsencode(LATIN1)] == "blob" and stored["/pinned/plain.txt"] == "text"


def test_folders_hold_text_and_byte_paths_alike(store: Store) -> None:
    under_root = {row.path for row in store.files_under("/pinned")}
    assert under_root == {*NAMES, os.fsdecode(b"/pinned/bad\xfe.docx")}
    assert {row.path for row in store.files_under(ODD_FOLDER)} == {ODD_FOLDER + "/inside.txt"}
    filters = SearchFilters(folders=(ODD_FOLDER,))
    where, params = filters.sql()
    rows = store.conn.execute(f"SELECT f.path FROM files f WHERE {where}", params).fetchall()
    assert [path_from_db(r[0]) for r in rows] == [ODD_FOLDER + "/inside.txt"]


def test_errors_moves_and_deletes_keep_the_path(store: Store) -> None:
    assert store.errors() == [(os.fsdecode(b"/pinned/bad\xfe.docx"), "failed", "corrupt DOCX")]
    row = store.file_by_path(LATIN1)
    assert row is not None
    moved = os.fsdecode(b"/pinned/moved-\xe9.txt")
    store.move_file(row.id, folder_id=row.folder_id, path=moved, size=1, mtime=2.0)
    assert store.file_by_path(moved) is not None and store.file_by_path(LATIN1) is None
    store.delete_files([r.id for r in store.files_under(ODD_FOLDER)])
    assert store.file_by_path(ODD_FOLDER + "/inside.txt") is None


def test_the_work_queue_keeps_the_path(store: Store) -> None:
    folder_id = store.folders()[0][0]
    with store.transaction() as conn:
        work_queue.enqueue(conn, [(LATIN1, folder_id, 1, 1.0)], work_queue.PRIORITY_EDIT)
    [item] = work_queue.next_batch(store.conn, 10)
    assert item.path == LATIN1
    store.finish_queued([item])
    assert work_queue.queue_length(store.conn) == 0


def test_a_pinned_folder_whose_name_is_not_text(store: Store) -> None:
    store.pin_folder(ODD_FOLDER)
    assert ODD_FOLDER in [path for _, path, _ in store.folders()]
    assert store.unpin_folder(ODD_FOLDER) is not None
