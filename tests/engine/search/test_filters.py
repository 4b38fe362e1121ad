"""Filters: a folder is an index range of paths, and the keyword side scans only its id runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.search import filters
from engine.search.coverage import SemanticCoverage
from engine.search.filters import SearchFilters, allowed_chunks, id_runs, last_id
from engine.search.searcher import Searcher
from engine.store import ChunkRow, Store
from engine.store.keyword import document_search, keyword_search

WORDS = "comet orbit nucleus tail dust ice sun perihelion coma meteor".split()


def _record(store: Store, folder: int, path: str, seed: int) -> None:
    # A few passages a file, each with some of the words, so BM25 scores differ.
    texts = [" ".join(WORDS[(seed + i + j) % len(WORDS)] for j in range(1 + (seed + i) % 5))
             for i in range(3)]
    chunks, offset = [], 0
    for i, text in enumerate(texts):
        chunks.append(ChunkRow(i, offset, offset + len(text), None, None, text))
        offset += len(text) + 1
    store.record_file(folder_id=folder, path=path, size=1, mtime=1.0, hash=f"h{seed}",
                      kind="text", state="indexed", chunks=chunks)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """/docs/sub's files in two runs of ids, with /docs/subway and /docs/other around them."""
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    seed = 0
    for block in ("sub", "other", "subway", "sub", "other"):
        for _ in range(6):
            _record(store, folder, f"/docs/{block}/{seed}.txt", seed)
            seed += 1
    _record(store, folder, os.fsdecode(b"/docs/sub/caf\xe9.txt"), 99)  # not UTF-8: a BLOB
    _record(store, folder, "/docs/sub", 98)  # a file named as the folder is: it matches too
    return store


def _paths(store: Store, where: str, params: tuple[object, ...]) -> set[str]:
    allowed = allowed_chunks(store.conn, where, params)
    assert allowed is not None
    chunk_ids = allowed[0]
    marks = ",".join("?" * len(chunk_ids))
    rows = store.conn.execute(
        f"SELECT DISTINCT f.path FROM chunks c JOIN files f ON f.id = c.file_id"
        f" WHERE c.id IN ({marks})", chunk_ids)
    return {os.fsdecode(r[0]) if isinstance(r[0], bytes) else r[0] for r in rows}


def test_a_folder_holds_what_lies_under_it_and_nothing_beside_it(store: Store) -> None:
    found = _paths(store, *SearchFilters(folders=("/docs/sub/",)).sql())
    assert found == {f"/docs/sub/{i}.txt" for i in [*range(6), *range(18, 24)]} | {
        os.fsdecode(b"/docs/sub/caf\xe9.txt"), "/docs/sub"}
    assert len(_paths(store, *SearchFilters(folders=("/",)).sql())) == 32
    assert _paths(store, *SearchFilters(folders=("/docs/su",)).sql()) == set()


def test_a_folder_filter_uses_the_path_index(store: Store) -> None:
    where, params = SearchFilters(folders=("/docs/sub",)).sql()
    plan = store.conn.execute(
        f"EXPLAIN QUERY PLAN SELECT f.id FROM files f WHERE {where}", params).fetchall()
    assert any("INDEX" in str(row[-1]) for row in plan), plan
    assert not any(str(row[-1]).startswith("SCAN f") for row in plan), plan


def test_runs_split_at_the_widest_gaps() -> None:
    ids = [*range(1, 11), *range(5_000, 5_010), *range(9_000, 9_005), 9_500]
    assert id_runs(ids, 100_000) == [(1, 10), (5_000, 5_009), (9_000, 9_500)]
    assert id_runs([], 10) == []
    assert id_runs(ids, 1_000) is None  # they would cover most of the index: one scan
    many = [i * 10_000 for i in range(10)]
    runs = id_runs(many, 10**9)
    assert runs is not None and len(runs) == filters.MAX_RUNS
    assert all(any(a <= i <= b for a, b in runs) for i in many)


def test_keyword_search_over_runs_ranks_as_the_join_does(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filters, "MIN_GAP", 1)  # so this small index is split into runs
    where, params = SearchFilters(folders=("/docs/sub",)).sql()
    allowed = allowed_chunks(store.conn, where, params)
    assert allowed is not None
    chunk_ids, file_ids = allowed
    chunk_runs = id_runs(chunk_ids, last_id(store.conn, "chunks"))
    file_runs = id_runs(file_ids, last_id(store.conn, "files"))
    assert chunk_runs is not None and len(chunk_runs) > 1
    assert file_runs is not None and len(file_runs) > 1
    for query in ["comet tail", "dust ice sun", "meteor", "perihelion coma nucleus orbit"]:
        for limit in (3, 10, 100):
            joined = keyword_search(store.conn, query, limit, where, params)
            ranged = keyword_search(store.conn, query, limit, where, params, chunk_runs)
            assert [(h.chunk_id, h.rank) for h in ranged] == [(h.chunk_id, h.rank) for h in joined]
            assert [h.score for h in ranged] == pytest.approx([h.score for h in joined])
            assert {h.chunk_id for h in ranged} <= set(chunk_ids)
        files = document_search(store.conn, query, 100, where, params)
        assert document_search(store.conn, query, 100, where, params, file_runs) == files


def test_a_filtered_search_returns_only_the_folder(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    searcher = Searcher(store)
    everything = searcher.search("comet dust", "keyword", k=50)
    inside = [r.best.path for r in everything.results if r.best.path.startswith("/docs/sub/")]
    for gap in (1_000, 1):  # one scan over both runs, then a query per run
        monkeypatch.setattr(filters, "MIN_GAP", gap)
        found = searcher.search("comet dust", "keyword", k=50,
                                filters=SearchFilters(folders=("/docs/sub",)))
        paths = [r.best.path for r in found.results]
        assert paths and all(p.startswith("/docs/sub/") for p in paths)
        assert set(inside) <= set(paths)


def test_coverage_is_counted_once_for_every_searcher_over_a_database(store: Store) -> None:
    assert SemanticCoverage(store).share() == 0.0  # no vectors stored
    store.conn.execute("UPDATE chunks SET vector = zeroblob(8)")
    assert SemanticCoverage(store).share() == 0.0  # a new one within REFRESH_SECONDS: cached


def test_too_many_allowed_passages_are_counted_not_read(store: Store) -> None:
    where, params = SearchFilters(folders=("/docs",)).sql()
    assert allowed_chunks(store.conn, where, params, at_most=10) is None
    allowed = allowed_chunks(store.conn, where, params, at_most=1_000)
    assert allowed is not None and len(allowed[0]) == 96
