"""An index saved by an older Dowse (tests/fixtures/old_index, schema 7) migrates in place and
finds what it found, from the vectors it already had."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from engine.core import Engine
from engine.store import Store
from engine.store.schema import SCHEMA_VERSION
from tests.conftest import REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "old_index"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


@pytest.fixture
def old_data_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copyfile(FIXTURE / "dowse.sqlite3", data_dir / "dowse.sqlite3")
    return data_dir


def _vectors(data_dir: Path) -> dict[int, bytes]:
    conn = sqlite3.connect(data_dir / "dowse.sqlite3")
    rows = conn.execute("SELECT id, vector FROM chunks").fetchall()
    conn.close()
    return {int(i): bytes(v) for i, v in rows}


def _found(engine: Engine, query: str, mode: str) -> list[list[object]]:
    return [[r.best.path, r.best.chunk_id] for r in engine.search(query, mode=mode, k=10).results]


def test_the_fixture_is_an_old_index_with_vectors(old_data_dir: Path) -> None:
    conn = sqlite3.connect(old_data_dir / "dowse.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == EXPECTED["schema_version"] == 7
    assert SCHEMA_VERSION > 7
    passages, vectors = conn.execute("SELECT count(*), count(vector) FROM chunks").fetchone()
    assert passages == vectors > 10  # every passage embedded, float16 (384 × 2 bytes)
    assert {len(v) for v in _vectors(old_data_dir).values()} == {768}
    conn.close()


def test_an_old_index_migrates_in_place_and_keyword_search_finds_the_same(
    old_data_dir: Path,
) -> None:
    before = _vectors(old_data_dir)
    Store.open_in(old_data_dir).close()
    conn = sqlite3.connect(old_data_dir / "dowse.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "chunks_fts_content" not in tables  # no copy of the passages' text any more
    for table in ("chunks_fts", "files_fts"):
        conn.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
    assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    conn.close()
    assert _vectors(old_data_dir) == before  # the stored vectors are kept as they were

    engine = Engine(old_data_dir)
    for query, found in EXPECTED["queries"].items():
        assert _found(engine, query, "keyword") == found["keyword"], query
    engine.close()


def test_a_migrated_index_forgets_a_file_completely(old_data_dir: Path) -> None:
    store = Store.open_in(old_data_dir)
    file_id, path = store.conn.execute("SELECT id, path FROM files ORDER BY id").fetchone()
    store.delete_files([int(file_id)])
    store.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    store.close()
    engine = Engine(old_data_dir)
    for query, found in EXPECTED["queries"].items():
        kept = [hit for hit in found["keyword"] if hit[0] != path]
        assert _found(engine, query, "keyword") == kept, query
    engine.close()


@pytest.mark.model
def test_semantic_search_on_a_migrated_index_needs_no_re_embedding(old_data_dir: Path) -> None:
    before = _vectors(old_data_dir)
    engine = Engine(old_data_dir)
    for query, found in EXPECTED["queries"].items():
        assert _found(engine, query, "semantic") == found["semantic"], query
    assert engine.semantic.embedded_passages == 0  # the HNSW file came from stored vectors
    engine.close()
    assert _vectors(old_data_dir) == before
