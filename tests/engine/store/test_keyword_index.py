"""The keyword index against FTS5 itself on a real database: the same passages and files with
the same BM25 scores, filtered or not; FTS5 again once it is stale; gone once words are purged."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

import engine.store.keyword_index as keyword_index
from engine.config import Config, IndexConfig, SearchConfig
from engine.core import Engine
from engine.ingest.forget import purge_traces
from engine.search.searcher import Searcher, SearchFilters
from engine.store import ChunkRow, Store
from engine.store.keyword import (
    KeywordHit,
    _phrases,
    document_search,
    keyword_search,
    postings_search,
)
from engine.store.keyword_build import build_keyword_index, refresh_keyword_index
from engine.store.keyword_index import KEYWORD_FILE, KeywordIndex, open_keyword_index

# Inflections that FTS5's porter stemmer folds together, accents that remove_diacritics folds,
# and words common enough that their idf is clamped, so every part of bm25() is exercised.
WORDS = (
    "river rivers lantern lanterns copper orchard orchards falcon granite harbor harboring "
    "meadow violin glacier saffron compass thunder willow ember quartz canyon running runs "
    "run beacon marble café cafe naïve prairie cobalt lagoon cedar connection connected"
).split()
COMMON = ["stone"] * 12  # in most passages: bm25()'s idf floor
QUERIES = [
    "running rivers", "falcon", "café lanterns and granite", "stone", "stone river stone",
    "connection connected connect", "naive harboring of quartz", "the of", "nothingmatches",
    "copper copper copper orchard", "Cobalt LAGOON cedar", "x_y river",
]


def _write(store: Store, folder: int, files: int, seed: int, first: int = 0) -> None:
    rng = random.Random(seed)
    for n in range(first, first + files):
        texts = []
        for _ in range(rng.randint(1, 6)):
            length = rng.randint(3, 90)
            texts.append(" ".join(rng.choice(WORDS + COMMON) for _ in range(length)))
        chunks = [ChunkRow(i, 0, len(t), None, None, t) for i, t in enumerate(texts)]
        store.record_file(folder_id=folder, path=f"/docs/{'ab'[n % 2]}/f{n}.txt", size=1,
                          mtime=1.0, hash=f"h{n}", kind="text", state="indexed", chunks=chunks)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    _write(store, folder, 120, seed=7)
    return store


def _pairs(hits: list[object]) -> list[tuple[int, float]]:
    return [(h.chunk_id, round(h.score, 9)) for h in hits]  # type: ignore[attr-defined]


def _same(ours: list[tuple[int, float]], theirs: list[tuple[int, float]]) -> None:
    """Equal scores in the same order; ids may swap only within a tie."""
    assert [s for _, s in ours] == [s for _, s in theirs]
    by_score: dict[float, set[int]] = {}
    for i, s in theirs:
        by_score.setdefault(s, set()).add(i)
    for i, s in ours:
        assert i in by_score[s]


PRUNING = ["every term in full", "pruned from the second term",
           "candidates narrowed at every term and looked up"]


def _prune(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """On this small index no term has enough postings to be worth pruning: the second way
    makes every term one that is; the third also narrows the candidates before every term
    and looks each one up in the term's ids, however few the postings."""
    if how == PRUNING[0]:
        return
    monkeypatch.setattr(keyword_index, "PRUNE_POSTINGS", 1)
    monkeypatch.setattr(keyword_index, "PRUNE_CHECKS", 100)
    if how == PRUNING[2]:
        monkeypatch.setattr(keyword_index, "PRUNE_REACH", 1e9)
        monkeypatch.setattr(keyword_index, "TIGHTEN", 1.0)
        monkeypatch.setattr(keyword_index, "LOOKUP_SHARE", 0)


@pytest.fixture(params=PRUNING)
def pruning(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way a query is scored (_prune)."""
    _prune(monkeypatch, request.param)


@pytest.mark.parametrize("how", PRUNING[1:])
def test_pruning_scores_fewer_postings_for_the_same_answer(
    store: Store, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Not vacuous: the pruned ways skip postings (so the tests above compare two ways of
    scoring, not one way twice), and still give FTS5's answer."""
    build_keyword_index(store.path)
    index = open_keyword_index(store.path)
    assert index is not None
    scored = [0]
    add = keyword_index.TablePostings._add

    def counting(self: object, summed: object, ids: list[int], *rest: object) -> None:
        scored[0] += len(ids)
        add(self, summed, ids, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(keyword_index.TablePostings, "_add", counting)
    query = "stone river lantern copper orchard falcon granite meadow"
    in_full = index.chunks.best(_query_phrases(store, query), 3)
    full = scored[0]
    _prune(monkeypatch, how)
    scored[0] = 0
    pruned = index.chunks.best(_query_phrases(store, query), 3)
    assert 0 < scored[0] < full
    assert pruned == in_full
    _same([(i, round(s, 9)) for i, s in pruned], _pairs(keyword_search(store.conn, query, 3)))


def _query_phrases(store: Store, query: str) -> list[tuple[str, int]]:
    phrases = _phrases(store.conn, query)
    assert phrases is not None
    return phrases


def _ours(store: Store, index: KeywordIndex | None, query: str, limit: int,
          chunk_ids: list[int] | None = None, file_ids: list[int] | None = None,
          ) -> tuple[list[KeywordHit], list[KeywordHit]]:
    """Passages and files from the keyword index, as the searcher asks for them; FTS5's for a
    query the index leaves to FTS5 (a word of two tokens), as the searcher does then."""
    assert index is not None
    both = postings_search(store.conn, index, query, limit, limit, chunk_ids, file_ids)
    if both is None:
        where, params = ("", ()) if chunk_ids is None else A_FOLDER.sql()
        return (keyword_search(store.conn, query, limit, where, params),
                document_search(store.conn, query, limit, where, params))
    return both[0].result(), both[1].result()


A_FOLDER = SearchFilters(folders=("/docs/a",))


@pytest.mark.usefixtures("pruning")
def test_the_index_gives_fts5s_passages_and_files_with_its_scores(store: Store) -> None:
    build_keyword_index(store.path)
    index = open_keyword_index(store.path)
    assert index is not None and index.fresh(store.conn)
    for query in QUERIES:
        for limit in (5, 1000):
            passages, files = _ours(store, index, query, limit)
            _same(_pairs(passages), _pairs(keyword_search(store.conn, query, limit)))
            _same(_pairs(files), _pairs(document_search(store.conn, query, limit)))
    assert _ours(store, index, "river", 10)[0]  # not vacuous


@pytest.mark.usefixtures("pruning")
def test_a_filter_keeps_the_same_answer(store: Store) -> None:
    build_keyword_index(store.path)
    index = open_keyword_index(store.path)
    where, params = A_FOLDER.sql()
    rows = store.conn.execute(
        f"SELECT c.id, c.file_id FROM files f JOIN chunks c ON c.file_id = f.id WHERE {where}",
        params).fetchall()
    chunk_ids, file_ids = sorted(r[0] for r in rows), sorted({r[1] for r in rows})
    for query in QUERIES:
        ours, files = _ours(store, index, query, 50, chunk_ids, file_ids)
        assert {h.chunk_id for h in ours} <= set(chunk_ids)
        _same(_pairs(ours), _pairs(keyword_search(store.conn, query, 50, where, params)))
        _same(_pairs(files), _pairs(document_search(store.conn, query, 50, where, params)))


def test_the_searcher_answers_alike_with_and_without_it(store: Store) -> None:
    searcher = Searcher(store, None)
    before = [searcher.search(q, "keyword", 10).results for q in QUERIES]
    assert refresh_keyword_index(store.path, store.conn, min_passages=0)
    assert searcher._keyword_index() is not None
    after = [searcher.search(q, "keyword", 10).results for q in QUERIES]
    assert any(before)
    for old, new in zip(before, after, strict=True):
        assert [round(r.best.score, 9) for r in old] == [round(r.best.score, 9) for r in new]
        assert [(r.best.chunk_id, [m.chunk_id for m in r.more]) for r in old] == [
            (r.best.chunk_id, [m.chunk_id for m in r.more]) for r in new]


def test_a_stale_index_is_not_used_and_is_rebuilt(store: Store) -> None:
    build_keyword_index(store.path)
    searcher = Searcher(store, None)
    assert searcher._keyword_index() is not None
    # A new passage (its word found nowhere else) makes the index stale: FTS5 answers.
    store.record_file(folder_id=1, path="/docs/new.txt", size=1, mtime=2.0, hash="new",
                      kind="text", state="indexed",
                      chunks=[ChunkRow(0, 0, 20, None, None, "zeppelin over granite")])
    assert searcher._keyword_index() is None
    found = searcher.search("zeppelin", "keyword", 10).results
    assert [r.best.path for r in found] == ["/docs/new.txt"]
    assert refresh_keyword_index(store.path, store.conn, min_passages=0)
    assert searcher._keyword_index() is not None
    assert [r.best.path for r in searcher.search("zeppelin", "keyword", 10).results] == [
        "/docs/new.txt"]
    assert not refresh_keyword_index(store.path, store.conn, min_passages=0)  # fresh already


def test_removals_make_it_stale_and_the_purge_deletes_it(store: Store) -> None:
    build_keyword_index(store.path)
    path = store.path.parent / KEYWORD_FILE
    assert b"saffron" in path.read_bytes()
    store.delete_files([store.conn.execute("SELECT id FROM files").fetchone()[0]])
    index = open_keyword_index(store.path)
    assert index is not None and not index.fresh(store.conn)
    purge_traces(store, None, None, IndexConfig())
    assert not path.exists()  # the words of the removed file are listed nowhere any more


def test_below_the_threshold_none_is_built_and_a_stale_one_goes(store: Store) -> None:
    path = store.path.parent / KEYWORD_FILE
    assert not refresh_keyword_index(store.path, store.conn, min_passages=10**6)
    assert not path.exists()
    build_keyword_index(store.path)
    _write(store, 1, 1, seed=9, first=500)
    assert not refresh_keyword_index(store.path, store.conn, min_passages=10**6)
    assert not path.exists()


def test_a_damaged_file_is_ignored(store: Store) -> None:
    built = build_keyword_index(store.path)
    built.write_bytes(built.read_bytes()[:-40])
    assert open_keyword_index(store.path) is None
    assert Searcher(store, None).search("river", "keyword", 5).results


def test_damaged_postings_leave_the_search_to_fts5(store: Store) -> None:
    """Bytes damaged inside the postings (the header intact): the search still answers, as
    FTS5 does, and the index is set aside until a rebuild replaces it."""
    expected = Searcher(store, None).search("river stone", "keyword", 5).results
    built = build_keyword_index(store.path)
    data = bytearray(built.read_bytes())
    chunks = keyword_index._load(built).chunks
    start, size = chunks.postings._heap, int(chunks.offsets[-1])  # every passage posting
    data[start : start + size] = b"\xff" * size
    built.write_bytes(bytes(data))
    assert open_keyword_index(store.path) is not None  # the header still reads
    found = Searcher(store, None).search("river stone", "keyword", 5).results
    assert [(r.best.path, round(r.best.score, 9)) for r in found] == [
        (r.best.path, round(r.best.score, 9)) for r in expected]
    assert open_keyword_index(store.path) is None  # set aside
    assert refresh_keyword_index(store.path, store.conn, min_passages=1)
    assert open_keyword_index(store.path) is not None


def test_an_older_format_is_rebuilt_not_read(store: Store) -> None:
    built = build_keyword_index(store.path)
    data = built.read_bytes()
    built.write_bytes(data[:-8] + b"DOWSEKW2")
    assert open_keyword_index(store.path) is None
    assert Searcher(store, None).search("river", "keyword", 5).results
    assert refresh_keyword_index(store.path, store.conn, min_passages=1)
    assert built.read_bytes()[-8:] == keyword_index.MAGIC


def test_dowse_index_builds_it_from_the_threshold_on(tmp_path: Path) -> None:
    """Through the engine as `dowse index` runs it: real files, extracted and chunked; the
    index is there and fresh after the run, and the search answers as FTS5 alone did."""
    root = tmp_path / "docs"
    root.mkdir()
    rng = random.Random(3)
    for n in range(12):
        words = " ".join(rng.choice(WORDS + COMMON) for _ in range(400))
        (root / f"note{n}.txt").write_text(f"Note {n}. {words}\n")
    below = Engine(tmp_path / "below")
    below.index([root], keyword_only=True)
    assert not (below.data_dir / KEYWORD_FILE).exists()  # under the default threshold
    expected = [below.search(q, mode="keyword").results for q in QUERIES]
    config = Config(search=dataclasses.replace(SearchConfig(), keyword_index_min=1))
    engine = Engine(tmp_path / "data", config)
    engine.index([root], keyword_only=True)
    index = open_keyword_index(engine.store.path)
    assert index is not None and index.fresh(engine.store.conn)
    found = [engine.search(q, mode="keyword").results for q in QUERIES]
    assert any(expected)
    for old, new in zip(expected, found, strict=True):
        assert [(r.best.path, round(r.best.score, 9)) for r in old] == [
            (r.best.path, round(r.best.score, 9)) for r in new]
    below.close()
    engine.close()


def test_the_engine_does_not_rebuild_it_more_often_than_it_can_afford(store: Store) -> None:
    assert refresh_keyword_index(store.path, store.conn, min_passages=0, spacing=1e9)
    _write(store, 1, 1, seed=11, first=700)  # stale now
    assert not refresh_keyword_index(store.path, store.conn, min_passages=0, spacing=1e9)
    assert Searcher(store, None)._keyword_index() is None  # FTS5 answers meanwhile
    assert refresh_keyword_index(store.path, store.conn, min_passages=0, spacing=0.0)
    assert Searcher(store, None)._keyword_index() is not None
