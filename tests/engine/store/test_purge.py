"""The purge on a real database: removed text and vectors leave no bytes in the file or its WAL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import ChunkRow, Store
from engine.store.database import _split_sql
from engine.store.purge import purge_database, purge_pending
from engine.store.schema import MIGRATIONS
from tests.helpers.traces import traces_in

FILLER = "the river stone paper house garden letter window morning evening".split()


def _text(n: int, extra: str = "") -> str:
    return " ".join(FILLER[(n + i) % len(FILLER)] for i in range(80)) + extra


def _record(store: Store, folder: int, path: str, text: str, vector: bytes | None = None
            ) -> tuple[list[int], list[int]]:
    chunks = [ChunkRow(0, 0, len(text), None, None, text)]
    return store.record_file(
        folder_id=folder, path=path, size=len(text), mtime=1.0, hash=path, kind="text",
        state="indexed", chunks=chunks,
        extra_columns=[{"vector": vector}] if vector is not None else None,
    )


def _vector(seed: int) -> bytes:
    return bytes((seed * 37 + i * 11) % 251 for i in range(768))  # a float16 384-d blob


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open_in(tmp_path)
    yield opened
    opened.close()


def test_every_connection_zeroes_what_it_deletes(store: Store) -> None:
    assert store.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1


def test_removals_in_every_way_leave_nothing_after_the_purge(store: Store, tmp_path: Path) -> None:
    docs, other = store.pin_folder("/docs"), store.pin_folder("/other")
    for n in range(150):
        _record(store, docs, f"/docs/filler-{n}.txt", _text(n))
    secrets = {
        b"qwxzumbra": "/docs/deleted.txt",
        b"plovnitzer": "/docs/edited.txt",
        b"yrrgblast": "/other/unpinned.txt",
        b"krimfoddle": "/docs/moved.txt",
    }
    vectors = {}
    for n, (word, path) in enumerate(secrets.items()):
        vectors[word] = _vector(n)
        _record(store, other if path.startswith("/other") else docs, path,
                _text(n, f" {word.decode()} end"), vectors[word])
    assert not purge_pending(store)  # adding alone leaves nothing to purge

    deleted = store.file_by_path("/docs/deleted.txt")
    assert deleted is not None
    store.delete_files([deleted.id])
    _record(store, docs, "/docs/edited.txt", _text(9), _vector(99))  # the word edited out
    store.unpin_folder("/other")
    moved = store.file_by_path("/docs/moved.txt")
    assert moved is not None
    store.move_file(moved.id, folder_id=docs, path="/docs/renamed.txt", size=1, mtime=2.0)
    _record(store, docs, "/docs/renamed.txt", _text(10), _vector(98))  # then edited
    assert purge_pending(store)

    needles = [*secrets, *vectors.values()]
    assert traces_in(tmp_path, needles), "without a purge the removed bytes are still there"
    result = purge_database(store)
    assert result.done and not purge_pending(store)
    assert traces_in(tmp_path, needles) == {}
    assert (tmp_path / "dowse.sqlite3-wal").stat().st_size == 0
    # What is still indexed is still findable.
    rows = store.conn.execute(
        "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'garden'").fetchone()
    assert rows[0] > 100


def test_a_purge_due_survives_a_crash(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    _record(store, folder, "/docs/a.txt", _text(1, " zamfrodel"))
    file = store.file_by_path("/docs/a.txt")
    assert file is not None
    store.delete_files([file.id])
    store.db.conn.close()  # no purge, as when the process is killed
    reopened = Store.open_in(tmp_path)
    try:
        assert purge_pending(reopened)
        assert purge_database(reopened).done
        assert traces_in(tmp_path, [b"zamfrodel"]) == {}
    finally:
        reopened.close()


def test_a_reader_holding_the_wal_keeps_the_purge_due(store: Store, tmp_path: Path) -> None:
    folder = store.pin_folder("/docs")
    _record(store, folder, "/docs/a.txt", _text(1, " vorpalinth"))
    reader = sqlite3.connect(tmp_path / "dowse.sqlite3", isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM chunks").fetchone()  # a snapshot with the old row
    file = store.file_by_path("/docs/a.txt")
    assert file is not None
    store.delete_files([file.id])
    store.conn.execute("PRAGMA busy_timeout = 100")
    try:
        assert not purge_database(store).done
        assert purge_pending(store)
    finally:
        reader.close()
    assert purge_database(store).done
    assert traces_in(tmp_path, [b"vorpalinth"]) == {}


def test_an_index_from_before_the_purge_is_purged_once(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "dowse.sqlite3", isolation_level=None)
    for script in MIGRATIONS[:4]:  # schema version 4: deletions left their words in FTS5
        for statement in _split_sql(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO folders(path, added_at) VALUES ('/docs', 0)")
    conn.execute("INSERT INTO files(folder_id, path, size, mtime, state) "
                 "VALUES (1, '/docs/a.txt', 1, 0, 'indexed')")
    conn.execute("INSERT INTO chunks(file_id, ordinal, start, \"end\", text) "
                 "VALUES (1, 0, 0, 5, 'hello')")
    conn.close()
    store = Store.open_in(tmp_path)
    try:
        assert purge_pending(store)
    finally:
        store.close()


def test_free_pages_go_back_to_the_disk_when_they_are_a_large_part(store: Store,
                                                                   tmp_path: Path) -> None:
    from engine.store.purge import reclaim_free_pages

    docs = store.pin_folder("/docs")
    for n in range(200):
        _record(store, docs, f"/docs/gone-{n}.txt", _text(n, " stays"), _vector(n))
    _record(store, docs, "/docs/kept.txt", _text(7, " lindqvorn"), _vector(7))
    gone = [f.id for path, f in store.files_in_folder(docs).items() if "gone" in path]
    store.delete_files(gone)
    assert purge_database(store).done
    assert reclaim_free_pages(store.conn, min_bytes=1 << 30) == 0  # not worth it: kept
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    freed = reclaim_free_pages(store.conn, min_bytes=0)
    assert freed > 0
    assert store.conn.execute("PRAGMA page_count").fetchone()[0] < pages
    assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert reclaim_free_pages(store.conn, min_bytes=0) == 0  # nothing left to give back
    assert (tmp_path / "dowse.sqlite3-wal").stat().st_size == 0
    store.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    hits = store.conn.execute(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'lindqvorn'").fetchall()
    assert len(hits) == 1
