import sqlite3
from pathlib import Path

import pytest

from engine.store import ChunkRow, SchemaTooNewError, Store
from engine.store.schema import SCHEMA_VERSION


def _fts_ids(store: Store, word: str, column: str = "text") -> set[int]:
    """Passages whose own text (or, with column="nearby", whose neighbours) hold `word`."""
    rows = store.conn.execute(
        "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (f"{column} : {word}",)
    )
    return {int(r[0]) for r in rows}


def _record(store: Store, folder: int, path: str, texts: list[str]) -> tuple[list[int], list[int]]:
    chunks = [ChunkRow(i, 0, len(t), None, None, t) for i, t in enumerate(texts)]
    return store.record_file(
        folder_id=folder, path=path, size=1, mtime=1.0, hash="h", kind="text",
        state="indexed", chunks=chunks,
    )


def test_fresh_database_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    store.close()
    # Reopening does not re-run migrations.
    Store.open_in(tmp_path).close()


def test_keyword_tables_merge_segments_eight_at_a_time(tmp_path: Path) -> None:
    """Migration 10: FTS5's automerge is 8 on both tables, and holds once files are written
    (FTS5 keeps it in each table's own config, which a write must not reset)."""
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    for n in range(20):
        _record(store, folder, f"/docs/{n}.txt", [f"word{n} shared", f"other{n} shared"])
    for table in ("chunks_fts", "files_fts"):
        config = dict(store.conn.execute(f"SELECT k, v FROM {table}_config"))
        assert config.get("automerge") == 8, table
        store.conn.execute(f"INSERT INTO {table}({table}) VALUES('integrity-check')")
    assert len(_fts_ids(store, "shared")) == 40
    store.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.open_in(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "dowse.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="newer|Upgrade"):
        Store.open_in(tmp_path)


def test_fts_follows_chunks_through_replace_and_delete(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    _, first = _record(store, folder, "/docs/a.txt", ["alpha beta", "gamma"])
    assert _fts_ids(store, "alpha") == {first[0]}
    removed, second = _record(store, folder, "/docs/a.txt", ["delta"])
    assert removed == first
    assert _fts_ids(store, "alpha") == set()
    assert _fts_ids(store, "delta") == set(second)
    assert not set(second) & set(first), "chunk ids are never reused"
    assert store.delete_files([store.file_by_path("/docs/a.txt").id]) == second  # type: ignore[union-attr]
    assert _fts_ids(store, "delta") == set()
    assert store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] == 0


def test_failed_transaction_leaves_chunks_and_fts_in_step(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    _record(store, folder, "/docs/a.txt", ["kept words"])
    bad = [ChunkRow(0, 0, 3, None, None, "new words"), ChunkRow(0, 0, 3, None, None, "dup")]
    with pytest.raises(sqlite3.IntegrityError):  # duplicate ordinal
        store.record_file(
            folder_id=folder, path="/docs/a.txt", size=2, mtime=2.0, hash="h2",
            kind="text", state="indexed", chunks=bad,
        )
    assert _fts_ids(store, "kept") and not _fts_ids(store, "new")
    assert store.file_by_path("/docs/a.txt").size == 1  # type: ignore[union-attr]
    assert store.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')")


def test_unpin_removes_everything_of_the_folder(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    _, ids = _record(store, folder, "/docs/a.txt", ["alpha"])
    other = store.pin_folder("/other")
    _record(store, other, "/other/b.txt", ["alpha"])
    assert store.unpin_folder("/docs") == ids
    assert store.unpin_folder("/nowhere") is None
    assert store.counts()["files"] == 1
    assert len(_fts_ids(store, "alpha")) == 1


def test_migration_4_rebuilds_keyword_rows_with_neighbours(tmp_path: Path) -> None:
    from engine.store.database import _split_sql
    from engine.store.schema import MIGRATIONS

    conn = sqlite3.connect(tmp_path / "dowse.sqlite3")
    for number, script in enumerate(MIGRATIONS[:3], start=1):
        for statement in _split_sql(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/docs', 0)")
    conn.execute("INSERT INTO files(id, folder_id, path, size, mtime, state)"
                 " VALUES (1, 1, '/docs/a.txt', 1, 1, 'indexed')")
    for ordinal, text in enumerate(["alpha one", "beta two", "gamma three"]):
        conn.execute("INSERT INTO chunks(file_id, ordinal, start, \"end\", text)"
                     " VALUES (1, ?, 0, 1, ?)", (ordinal, text))
    conn.commit()
    conn.close()

    store = Store.open_in(tmp_path)
    ids = [int(r[0]) for r in store.conn.execute("SELECT id FROM chunks ORDER BY ordinal")]
    assert _fts_ids(store, "beta") == {ids[1]}
    assert _fts_ids(store, "beta", "nearby") == {ids[0], ids[2]}
    assert _fts_ids(store, "alpha", "nearby") == {ids[1]}
    store.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')")
    assert store.delete_files([1]) == ids
    assert store.conn.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0] == 0
    store.close()
