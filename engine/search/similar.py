""""More like this": the passages nearest in meaning to one indexed passage, by its stored vector.

Nothing is embedded: the passage's vector is read from SQLite and looked up in the HNSW index.
The passage's own file is left out, and so are files whose nearest passage is a copy of it
(the PDF of the same DOCX), since they are the same thing rather than more like it. The rest
are grouped by file and collapsed as a search is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Protocol

from engine.search.duplicates import Copy, CopyFinder, stored_vectors
from engine.search.searcher import PassageHit, Searcher, SearchResponse
from engine.store import Store
from engine.store.paths import path_to_db


class NoSuchPassageError(ValueError):
    """The file is not indexed, has no passage there, or its passages have no vectors yet."""


class Neighbours(Protocol):
    """The vector side, as SemanticReader provides it."""

    confidence_threshold: float

    def neighbours(self, chunk_id: int, k: int, excluded: set[int]) -> list[tuple[int, float]]: ...


@dataclass(frozen=True)
class Source:
    chunk_id: int
    file_id: int
    page: int | None
    start: int
    end: int
    text: str


def find_source(store: Store, path: str, page: int | None, start: int | None) -> Source:
    """The passage of `path` holding offset `start`, else the first on `page`, else the first."""
    rows = store.conn.execute(
        'SELECT c.id, c.file_id, c.page, c.start, c."end", c.text FROM chunks c'
        " JOIN files f ON f.id = c.file_id WHERE f.path = ? ORDER BY c.ordinal",
        (path_to_db(path),),
    ).fetchall()
    if not rows:
        raise NoSuchPassageError(f"nothing indexed at {path}")
    sources = [Source(int(r[0]), int(r[1]), r[2], int(r[3]), int(r[4]), str(r[5])) for r in rows]
    if start is not None:
        holding = [s for s in sources if s.start <= start < s.end]
        if holding:
            return holding[0]
        before = [s for s in sources if s.start <= start]  # in a gap between passages
        return before[-1] if before else sources[0]
    if page is not None:
        on_page = [s for s in sources if s.page == page]
        if not on_page:
            raise NoSuchPassageError(f"no indexed passage on page {page} of {path}")
        return on_page[0]
    return sources[0]


def similar_passages(
    store: Store,
    side: Neighbours,
    path: str,
    page: int | None = None,
    start: int | None = None,
    k: int = 10,
    candidates: int = 100,
    passages_per_file: int = 3,
) -> SearchResponse:
    """Files with passages near the chosen passage of `path`, best first, as a search's answer
    (mode "semantic", the passage's text as the query, `source` naming the passage)."""
    started = time.perf_counter()
    source = find_source(store, path, page, start)
    own = {
        int(r[0])
        for r in store.conn.execute("SELECT id FROM chunks WHERE file_id = ?", (source.file_id,))
    }
    pairs = side.neighbours(source.chunk_id, max(candidates, k * 4), own)
    if not pairs and not stored_vectors(store.conn, [source.chunk_id]):
        raise NoSuchPassageError(f"{path} is not embedded yet; try again once it is indexed")
    searcher = Searcher(store, None, candidates)
    rows = searcher.rows([cid for cid, _ in pairs])
    hits = [
        PassageHit(
            chunk_id=cid, file_id=row[0], path=row[1], page=row[2], start=row[3], end=row[4],
            heading=row[5], text=row[6], mtime=row[7], score=sim, semantic=sim, keyword=None,
            semantic_rank=rank,
        )
        for rank, (cid, sim) in enumerate(pairs, 1)
        if (row := rows.get(cid)) is not None
    ]
    results = searcher.group(_without_copies(store, source, hits), k, passages_per_file)
    threshold = side.confidence_threshold
    results = [replace(r, confident=(r.best.semantic or -1.0) >= threshold) for r in results]
    return SearchResponse(
        source.text, "semantic", any(r.confident for r in results), results,
        (time.perf_counter() - started) * 1000,
        source=Copy(path, source.page, source.start, source.end),
    )


def _without_copies(store: Store, source: Source, hits: list[PassageHit]) -> list[PassageHit]:
    """Hits of files whose nearest passage does not repeat the source passage."""
    firsts = {h.file_id: h for h in reversed(hits)}
    finder = CopyFinder(stored_vectors(store.conn, [source.chunk_id, *(
        h.chunk_id for h in firsts.values())]))
    finder.add([(source.chunk_id, source.text)])
    copies = {f for f, h in firsts.items() if finder.original_of(h.chunk_id, h.text) == 0}
    return [h for h in hits if h.file_id not in copies]
