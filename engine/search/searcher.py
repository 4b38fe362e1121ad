"""Answers a query with ranked passages grouped by file, by keyword, by meaning, or both."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from engine.search.coverage import SemanticCoverage
from engine.search.documents import DOCUMENT_POOL, DOCUMENT_WEIGHT, with_documents
from engine.search.duplicates import Copy, CopyFinder, passage_texts, stored_vectors
from engine.search.explanation import Explanation
from engine.search.filters import RUN_SHARE, allowed_chunks, id_runs, last_id
from engine.search.filters import SearchFilters as SearchFilters  # kept here for its importers
from engine.search.fusion import SEMANTIC_WEIGHT, fuse_parts
from engine.search.modes import MODES as MODES  # kept here for its importers
from engine.store import Store
from engine.store.keyword import (
    KeywordHit,
    document_search,
    keyword_search,
    matched_spans,
    matches_query,
    postings_search,
)
from engine.store.keyword_index import DamagedIndexError, KeywordIndex, open_keyword_index
from engine.store.paths import path_from_db
from engine.store.pending_vectors import passage_count

# Explanations come with the first ten results: one batched forward pass for all of them.
EXPLAINED = 10
KEYWORD_SCORE_POOL = 1000
# A file's best passage is compared with the passages of each result shown before it: all
# of them (up to WHOLE_FILE_PASSAGES) for the first WHOLE_FILES results, else the COMPARED
# that ranked best.
COMPARED = 8
WHOLE_FILES, WHOLE_FILE_PASSAGES = 10, 200


class UnknownModeError(ValueError):
    """A search mode other than hybrid, semantic or keyword."""


class SemanticSide(Protocol):
    """Nearest passages by meaning; provided once an encoder and a vector index exist."""

    def nearest(
        self, query: str, k: int, allowed: set[int] | None
    ) -> list[tuple[int, float]]: ...

    def similarities(self, query: str, chunk_ids: Sequence[int]) -> dict[int, float]: ...

    def explain(self, query: str, passages: Sequence[tuple[str, int]]) -> list[Explanation]: ...

    # Below this best-passage cosine the engine says it found no confident match.
    confidence_threshold: float


@dataclass(frozen=True)
class PassageHit:
    chunk_id: int
    file_id: int
    path: str
    page: int | None
    start: int
    end: int
    heading: str | None
    text: str
    mtime: float
    score: float
    semantic: float | None
    keyword: float | None
    keyword_rank: int | None = None
    semantic_rank: int | None = None
    fused_parts: tuple[float, float] | None = None  # (semantic, keyword) parts, hybrid only
    explanation: Explanation | None = None


@dataclass(frozen=True)
class FileHit:
    best: PassageHit
    more: tuple[PassageHit, ...] = ()
    also_in: tuple[Copy, ...] = ()  # other files where the same passage is found
    confident: bool = True  # the best passage clears the calibrated threshold


@dataclass(frozen=True)
class SearchResponse:
    query: str
    mode: str
    confident: bool
    results: list[FileHit] = field(default_factory=list)
    elapsed_ms: float = 0.0
    source: Copy | None = None  # "more like this": the passage the results are like
    # Share of the index's passages that have a vector: below 1 while the meaning phase is
    # behind, the rest are found by their words only. None in keyword mode.
    semantic_coverage: float | None = None
    # Sides of a hybrid or semantic search that could not run yet (the engine still loading
    # its vectors or model): the answer is keyword-only and says so.
    not_ready: tuple[str, ...] = ()


class Searcher:
    def __init__(
        self,
        store: Store,
        semantic: SemanticSide | None = None,
        candidates: int = 100,
        semantic_weight: float = SEMANTIC_WEIGHT,
        document_weight: float = DOCUMENT_WEIGHT,
        collapse: bool = True,
    ) -> None:
        self.store = store
        self.semantic = semantic
        self.candidates = candidates
        self.semantic_weight = semantic_weight
        self.document_weight = document_weight
        self.collapse = collapse
        self.coverage = SemanticCoverage(store)

    def search(
        self,
        query: str,
        mode: str = "hybrid",
        k: int = 10,
        filters: SearchFilters | None = None,
        passages_per_file: int = 3,
        explain: bool = False,
    ) -> SearchResponse:
        if mode not in MODES:
            raise UnknownModeError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        started = time.perf_counter()
        filters = filters or SearchFilters()
        where, params = filters.sql()
        depth = max(self.candidates, k * 4)
        # A filter is resolved once, through files.path's index (engine/search/filters.py):
        # the allowed passages, and the runs of chunk and file ids the keyword side scans.
        allowed: tuple[list[int], list[int]] | None = None
        chunk_runs: list[tuple[int, int]] | None = None
        file_runs: list[tuple[int, int]] | None = None
        postings = self._keyword_index() if mode != "semantic" else None
        if where:
            last = last_id(self.store.conn, "chunks")
            # FTS5 alone needs the ids only while they are few enough for runs.
            at_most = int(RUN_SHARE * last) if mode == "keyword" and not postings else None
            allowed = allowed_chunks(self.store.conn, where, params, at_most)
            if allowed is not None:
                chunk_runs = id_runs(allowed[0], last)
                file_runs = id_runs(allowed[1], last_id(self.store.conn, "files"))

        keyword: dict[int, tuple[float, int]] = {}
        keyword_pool: dict[int, float] = {}
        keyword_floor = 0.0
        documents: dict[int, float] = {}
        document_floor = 0.0
        bm25: Callable[[], tuple[list[KeywordHit], list[KeywordHit]]] | None = None
        if mode in ("hybrid", "keyword"):
            # BM25 ranks every match to sort them anyway, so scoring the first thousand costs
            # about the same as the first hundred: the extra ones give semantic candidates
            # their exact keyword score without a second FTS5 scan (which cost ~50 ms).
            pool = depth if mode == "keyword" else max(depth, KEYWORD_SCORE_POOL)
            bm25 = self._keyword_side(query, pool, where, params, chunk_runs, file_runs,
                                      postings, allowed)

        semantic: dict[int, tuple[float, int]] = {}
        parts: dict[int, tuple[float, float]] = {}
        sem_extra: dict[int, float] = {}
        kw_extra: dict[int, float] = {}
        if mode in ("hybrid", "semantic") and query.strip():
            if self.semantic is None:
                raise RuntimeError("semantic search needs an encoder and a vector index")
            nearest = self.semantic.nearest(query, depth, self._allowed_set(allowed))
            semantic = {cid: (sim, rank + 1) for rank, (cid, sim) in enumerate(nearest)}

        if bm25 is not None:
            hits, files = bm25()
            keyword = {h.chunk_id: (h.score, h.rank) for h in hits[:depth]}
            keyword_pool = {h.chunk_id: h.score for h in hits}
            # Past a full pool a passage scores at most the pool's last score; else it has none.
            keyword_floor = hits[-1].score if len(hits) == pool else 0.0
            documents = {h.chunk_id: h.score for h in files}
            document_floor = files[-1].score if len(files) == DOCUMENT_POOL else 0.0

        rows = self.rows(list(dict.fromkeys([*keyword, *semantic])))
        file_of = {cid: row[0] for cid, row in rows.items()}
        # Normalised over each side's top `candidates` whatever k is: with a pool that grew
        # with k, --k 100 ranked the first ten differently from --k 10 (and worse: SciFact
        # nDCG@10 0.720 against 0.725).
        reference = {c for c, (_, r) in semantic.items() if r <= self.candidates and c in rows}
        reference |= {c for c, (_, r) in keyword.items() if r <= self.candidates and c in rows}
        if mode == "hybrid" and self.semantic is not None:
            # Score every candidate on both sides exactly so fusion never guesses a missing score.
            missing_sem = [cid for cid in keyword if cid not in semantic]
            sem_extra = self.semantic.similarities(query, missing_sem) if missing_sem else {}
            kw_extra = {
                cid: keyword_pool.get(cid, keyword_floor) for cid in semantic if cid not in keyword
            }
            words = {cid: s for cid, (s, _) in keyword.items()} | kw_extra
            parts = fuse_parts(
                {cid: s for cid, (s, _) in semantic.items()} | sem_extra,
                self._with_documents(words, file_of, documents, document_floor, reference),
                self.semantic_weight,
                reference,
            )
            fused = {cid: a + b for cid, (a, b) in parts.items()}
        elif mode == "semantic":
            fused = {cid: s for cid, (s, _) in semantic.items()}
        else:
            words = {cid: s for cid, (s, _) in keyword.items()}
            fused = self._with_documents(words, file_of, documents, document_floor, reference)

        ranked = sorted(fused.items(), key=lambda item: -item[1])
        passages: list[PassageHit] = []
        for cid, score in ranked:
            row = rows.get(cid)
            if row is None:
                continue  # deleted since the vector index last saw it
            sem = semantic.get(cid)
            kw = keyword.get(cid)
            passages.append(PassageHit(
                chunk_id=cid, file_id=row[0], path=row[1], page=row[2], start=row[3],
                end=row[4], heading=row[5], text=row[6], mtime=row[7], score=float(score),
                # In hybrid mode a side that did not rank a passage still scored it exactly.
                semantic=sem[0] if sem else sem_extra.get(cid),
                keyword=kw[0] if kw else kw_extra.get(cid),
                keyword_rank=kw[1] if kw else None, semantic_rank=sem[1] if sem else None,
                fused_parts=parts.get(cid),
            ))
        results = self.group(passages, k, passages_per_file, query)
        if explain:
            results = self._explain(query, mode, results)
        results = [replace(r, confident=self._passes(mode, r.best)) for r in results]
        confident = any(r.confident for r in results)
        elapsed = (time.perf_counter() - started) * 1000
        coverage = self.coverage.share() if mode != "keyword" else None
        return SearchResponse(query, mode, confident, results, elapsed,
                              semantic_coverage=coverage)

    def _keyword_side(
        self, query: str, pool: int, where: str, params: tuple[object, ...],
        chunk_runs: list[tuple[int, int]] | None, file_runs: list[tuple[int, int]] | None,
        postings: KeywordIndex | None, allowed: tuple[list[int], list[int]] | None,
    ) -> Callable[[], tuple[list[KeywordHit], list[KeywordHit]]]:
        """The best passages and files by BM25, when asked. From a keyword index both start
        now, on two threads beside the caller's, which meanwhile searches by meaning (numpy
        and pread let go of the GIL); from FTS5 they run when asked."""
        documents = self.document_weight > 0

        def run() -> tuple[list[KeywordHit], list[KeywordHit]]:
            conn = self.store.conn
            hits = keyword_search(conn, query, pool, where, params, chunk_runs)
            files = document_search(conn, query, DOCUMENT_POOL, where, params,
                                    file_runs) if documents and hits else []
            return hits, files

        if postings is not None and (not where or allowed is not None):
            both = postings_search(self.store.conn, postings, query, pool,
                                   DOCUMENT_POOL if documents else 0,
                                   allowed[0] if allowed else None,
                                   allowed[1] if allowed else None)
            if both is not None:
                def joined() -> tuple[list[KeywordHit], list[KeywordHit]]:
                    try:
                        hits, files = both[0].result(), both[1].result()
                    except DamagedIndexError:
                        return run()  # set aside; FTS5 answers
                    return hits, files if hits else []
                return joined
        return run

    def _keyword_index(self) -> KeywordIndex | None:
        """The keyword index beside the database while it matches FTS5's content exactly."""
        index = open_keyword_index(self.store.path)
        return index if index is not None and index.fresh(self.store.conn) else None

    def _with_documents(
        self,
        words: dict[int, float],
        file_of: dict[int, int],
        documents: dict[int, float],
        floor: float,
        reference: set[int],
    ) -> dict[int, float]:
        words = {c: s for c, s in words.items() if c in file_of}
        if not documents:
            return words
        ref = reference & set(words) or None
        return with_documents(words, file_of, documents, floor, self.document_weight, ref)

    def group(
        self, hits: list[PassageHit], k: int, per_file: int, query: str = ""
    ) -> list[FileHit]:
        """Passages grouped by file in rank order; a file whose best passage repeats a file
        shown before it (engine/search/duplicates.py) is listed under that one instead."""
        by_file: dict[int, list[PassageHit]] = {}
        for hit in hits:
            by_file.setdefault(hit.file_id, []).append(hit)
        conn = self.store.conn
        ranked = [h.chunk_id for group in by_file.values() for h in group[:COMPARED]]
        finder = CopyFinder(stored_vectors(conn, ranked) if self.collapse else {},
                            texts=lambda ids: passage_texts(conn, ids))
        shown: list[tuple[list[PassageHit], list[Copy]]] = []
        matched = matches_query(query) if query else None
        for file_id, group in by_file.items():
            best = group[0]
            original = None
            if self.collapse:
                original = finder.original_of(best.chunk_id, best.text, matched)
            if original is not None:
                shown[original][1].append(Copy(best.path, best.page, best.start, best.end))
            elif len(shown) < k:
                passages: dict[int, str | None] = {h.chunk_id: h.text for h in group[:COMPARED]}
                if self.collapse and len(shown) < WHOLE_FILES:
                    # For the first results all their passages, since a copy's best passage
                    # may lie anywhere in them; for the rest the passages that ranked.
                    vectors = stored_vectors(conn, file_id=file_id, limit=WHOLE_FILE_PASSAGES)
                    finder.vectors.update(vectors)
                    passages.update({c: None for c in vectors if c not in passages})
                finder.add(list(passages.items()))
                shown.append((group[:per_file], []))
        return [FileHit(g[0], tuple(g[1:]), also_in=tuple(c)) for g, c in shown]

    def _explain(self, query: str, mode: str, results: list[FileHit]) -> list[FileHit]:
        """Attach explanations to the best passage of the first EXPLAINED results."""
        top = results[:EXPLAINED]
        semantic: list[Explanation | None] = [None] * len(top)
        if mode != "keyword" and self.semantic is not None:
            passages = [(r.best.text, r.best.start) for r in top]
            semantic = list(self.semantic.explain(query, passages))
        out = []
        for group, exp in zip(top, semantic, strict=True):
            hit = group.best
            spans = [(hit.start + a, hit.start + b) for a, b in matched_spans(hit.text, query)]
            if mode == "keyword":
                spans = spans if hit.keyword is not None else []
            if exp is None:
                exp = Explanation("keyword-match", 0.0, [], [], [], 0.0, 0.0)
            sem_share = kw_share = None
            if hit.fused_parts is not None:
                total = sum(hit.fused_parts)
                sem_share = hit.fused_parts[0] / total if total > 0 else 0.5
                kw_share = 1.0 - sem_share
            elif mode == "keyword":
                sem_share, kw_share = 0.0, 1.0
            elif mode == "semantic":
                sem_share, kw_share = 1.0, 0.0
            exp = replace(exp, keyword_spans=spans, semantic_share=sem_share,
                          keyword_share=kw_share)
            # The exact recomputation is the score the spans add up to; report that one.
            semantic_score = exp.score if exp.method != "keyword-match" else hit.semantic
            out.append(replace(group, best=replace(hit, explanation=exp, semantic=semantic_score)))
        return out + results[EXPLAINED:]

    def _passes(self, mode: str, hit: PassageHit) -> bool:
        """Whether a result clears the calibrated threshold (keyword mode has none)."""
        if mode == "keyword" or self.semantic is None:
            return True
        return (hit.semantic if hit.semantic is not None else -1.0) >= (
            self.semantic.confidence_threshold
        )

    def _allowed_set(self, allowed: tuple[list[int], list[int]] | None) -> set[int] | None:
        """The chunk ids a filter allows, or None when it allows every chunk (or has none)."""
        if allowed is None:
            return None
        chunks = set(allowed[0])
        return None if len(chunks) == passage_count(self.store.conn) else chunks

    def rows(
        self, chunk_ids: Sequence[int]
    ) -> dict[int, tuple[int, str, int | None, int, int, str | None, str, float]]:
        out = {}
        for start in range(0, len(chunk_ids), 500):
            part = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(part))
            rows = self.store.conn.execute(
                'SELECT c.id, c.file_id, f.path, c.page, c.start, c."end", c.heading, c.text, '
                f"f.mtime FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id IN ({marks})",
                part,
            )
            for r in rows:
                out[int(r[0])] = (int(r[1]), path_from_db(r[2]), r[3], int(r[4]), int(r[5]), r[6],
                                  str(r[7]), float(r[8]))
        return out

