"""The repack on a real database: written in two phases, it shrinks and keeps every row and id."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.store.repack as repack
from engine.config import IndexConfig
from engine.ingest.forget import purge_traces
from engine.store import ChunkRow, Store
from engine.store.connection import PAGE_SIZE, WAL_CHECKPOINT_BYTES, WAL_KEPT_BYTES
from engine.store.pending_vectors import next_unembedded, write_vectors
from engine.store.repack import REPACKED_KEY, repack_due, repack_if_due
from tests.conftest import REPO_ROOT

WORDS = (
    "river lantern copper orchard falcon granite harbor meadow violin glacier saffron compass "
    "thunder willow ember quartz canyon tundra beacon marble prairie cobalt lagoon cedar"
).split()
PER_FILE = 20


def _write_files(store: Store, folder: int, first: int, files: int, seed: int) -> None:
    """The first phase: files of PER_FILE passages (about 370 bytes each), no vectors."""
    rng = random.Random(seed)
    for n in range(first, first + files):
        texts = [" ".join(rng.choice(WORDS) for _ in range(55)) for _ in range(PER_FILE)]
        chunks = [ChunkRow(i, 0, len(t), None, None, t) for i, t in enumerate(texts)]
        store.record_file(folder_id=folder, path=f"/docs/f{n}.txt", size=1, mtime=1.0,
                          hash=f"h{n}", kind="text", state="indexed", chunks=chunks)


def _embed_all(store: Store) -> None:
    """The second phase: every passage's row grows by a 388-byte vector, 500 at a time."""
    while rows := next_unembedded(store.conn, 500):
        blobs = [random.Random(r.id).randbytes(388) for r in rows]
        with store.transaction() as conn:
            write_vectors(conn, [(r.id, r.text, b) for r, b in zip(rows, blobs, strict=True)])


def _contents(store: Store) -> tuple[object, ...]:
    """Every passage with its id and vector, each file, and what the FTS5 tables answer."""
    one = store.conn.execute
    chunks = one('SELECT id, file_id, ordinal, start, "end", text, vector FROM chunks'
                 " ORDER BY id").fetchall()
    files = one("SELECT id, path, hash FROM files ORDER BY id").fetchall()
    found = [
        one(f"SELECT rowid, round({rank}, 9) FROM {table} WHERE {table} MATCH ?"
            " ORDER BY rowid", (word,)).fetchall()
        for word in ("falcon", "quartz AND cedar", "willow")
        for table, rank in (("chunks_fts", "bm25(chunks_fts, 1.0, 0.5)"),
                            ("files_fts", "bm25(files_fts)"))
    ]
    return chunks, files, found


def _file_bytes(store: Store) -> int:
    one = store.conn.execute
    return int(one("PRAGMA page_count").fetchone()[0]) * int(one("PRAGMA page_size").fetchone()[0])


def _old_page_size_db(data_dir: Path, page_size: int = 4096) -> None:
    """A database made before Dowse chose its page size: SQLite's default, in WAL mode."""
    conn = sqlite3.connect(data_dir / "dowse.sqlite3")
    conn.execute(f"PRAGMA page_size = {page_size}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open_in(tmp_path)
    yield opened
    opened.close()


def test_a_new_database_has_large_pages_and_a_wal_bounded_in_bytes(store: Store) -> None:
    assert store.conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    pages = store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert pages * PAGE_SIZE == WAL_CHECKPOINT_BYTES
    assert store.conn.execute("PRAGMA journal_size_limit").fetchone()[0] == WAL_KEPT_BYTES


def test_an_old_database_keeps_its_pages_until_it_is_repacked(tmp_path: Path) -> None:
    _old_page_size_db(tmp_path)
    store = Store.open_in(tmp_path)
    try:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == (
            WAL_CHECKPOINT_BYTES // 4096)
    finally:
        store.close()


def test_due_once_a_share_is_written_and_embedded(store: Store) -> None:
    folder = store.pin_folder("/docs")
    _write_files(store, folder, 0, 10, seed=1)  # 200 passages
    assert not repack_due(store.conn, min_written=100)  # none has its vector yet
    _embed_all(store)
    assert not repack_due(store.conn, min_written=201)  # fewer than the minimum
    assert repack_due(store.conn, min_written=100)
    assert repack_if_due(store, min_written=100) is not None
    assert store.get_meta(REPACKED_KEY) == str(10 * PER_FILE)
    assert not repack_due(store.conn, min_written=1)  # nothing written since
    _write_files(store, folder, 10, 2, seed=2)  # 40 more: under a quarter of 240
    _embed_all(store)
    assert repack_if_due(store, min_written=1) is None
    _write_files(store, folder, 2, 2, seed=3)  # two files rewritten: new ids, the same count
    _embed_all(store)
    assert repack_due(store.conn, min_written=1)  # 80 of 240 written since


def _slack(store: Store) -> int:
    """Bytes unused in the passages' pages (SQLite's dbstat table)."""
    row = store.conn.execute("SELECT sum(unused) FROM dbstat WHERE name = 'chunks'").fetchone()
    return int(row[0])


def test_two_phase_writes_shrink_and_every_row_id_and_answer_is_kept(store: Store) -> None:
    folder = store.pin_folder("/docs")
    for batch in range(20):  # the words phase and the meaning phase interleave, as in a run
        _write_files(store, folder, batch * 5, 5, seed=batch)
        _embed_all(store)
    before, size, slack = _contents(store), _file_bytes(store), _slack(store)
    result = repack_if_due(store, min_written=1)
    assert result is not None
    assert result.bytes_before == size
    assert _file_bytes(store) == result.bytes_after < 0.97 * size
    assert _slack(store) < 0.3 * slack  # what grew by its vector is packed again
    assert _contents(store) == before
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert (store.path.parent / "dowse.sqlite3-wal").stat().st_size == 0


def test_an_old_database_gets_large_pages_when_alone(tmp_path: Path) -> None:
    _old_page_size_db(tmp_path)
    store = Store.open_in(tmp_path)
    try:
        _write_files(store, store.pin_folder("/docs"), 0, 20, seed=4)
        _embed_all(store)
        before = _contents(store)
        result = repack_if_due(store, min_written=1)
        assert result is not None and result.page_size == PAGE_SIZE
        assert _contents(store) == before
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        pages = store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        assert pages * PAGE_SIZE == WAL_CHECKPOINT_BYTES
    finally:
        store.close()


def test_an_old_database_open_elsewhere_is_repacked_with_its_pages(tmp_path: Path) -> None:
    _old_page_size_db(tmp_path)
    store, reader = Store.open_in(tmp_path), Store.open_in(tmp_path)
    try:
        _write_files(store, store.pin_folder("/docs"), 0, 20, seed=5)
        _embed_all(store)
        before = _contents(store)
        result = repack_if_due(store, min_written=1)
        assert result is not None and result.page_size == 4096
        assert result.bytes_after < result.bytes_before
        assert _contents(reader) == before  # the other connection reads on, unharmed
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        reader.close()
        store.close()


def test_without_room_nothing_is_rewritten_until_more_is_written(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_files(store, store.pin_folder("/docs"), 0, 10, seed=6)
    _embed_all(store)
    monkeypatch.setattr(repack, "free_bytes", lambda _path: 1 << 20)
    size = _file_bytes(store)
    result = repack_if_due(store, min_written=1)
    assert result is not None and result.bytes_after == size
    assert not repack_due(store.conn, min_written=1)  # not tried at every save point


def test_the_save_point_repacks(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_files(store, store.pin_folder("/docs"), 0, 10, seed=7)
    _embed_all(store)
    monkeypatch.setattr(repack, "MIN_WRITTEN", 100)
    assert purge_traces(store, None, None, IndexConfig()) is None  # nothing removed
    assert store.get_meta(REPACKED_KEY) == str(10 * PER_FILE)


# Killed from SQLite's progress handler after this many callbacks (of 100 VM steps each):
# inside the FTS5 merge, between it and the VACUUM, inside the VACUUM, and past its end.
_KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from engine.store import Store
    from engine.store.repack import repack_if_due
    store = Store.open_in(Path(sys.argv[1]))
    calls = [0]
    def tick():
        calls[0] += 1
        if calls[0] == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
        return 0
    store.conn.set_progress_handler(tick, 100)
    repack_if_due(store, min_written=1)
    print(calls[0])
""")


@pytest.mark.parametrize("old_pages", [False, True], ids=["wal", "page-size-change"])
def test_a_repack_killed_anywhere_loses_nothing(tmp_path: Path, old_pages: bool) -> None:
    if old_pages:
        _old_page_size_db(tmp_path)
    store = Store.open_in(tmp_path)
    _write_files(store, store.pin_folder("/docs"), 0, 15, seed=8)
    _embed_all(store)
    before = _contents(store)
    store.close()
    pristine = (tmp_path / "dowse.sqlite3").read_bytes()

    def run(kill_at: int) -> subprocess.CompletedProcess[str]:
        (tmp_path / "dowse.sqlite3").write_bytes(pristine)
        for suffix in ("-wal", "-shm", "-journal"):
            (tmp_path / f"dowse.sqlite3{suffix}").unlink(missing_ok=True)
        return subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(tmp_path), str(kill_at)],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    total = int(run(0).stdout)
    assert total > 20
    for kill_at in sorted({1, total // 8, total // 3, total // 2, 2 * total // 3, total - 1}):
        assert run(kill_at).returncode == -9
        reopened = Store.open_in(tmp_path, check=True)
        try:
            assert _contents(reopened) == before, kill_at
            assert reopened.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            reopened.close()
