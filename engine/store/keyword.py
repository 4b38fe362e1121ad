"""Keyword search over passages with SQLite FTS5 BM25, taking user text, never FTS5 syntax."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from engine.store.keyword_index import (
    DamagedIndexError,
    KeywordIndex,
    TablePostings,
    fts_tokens,
    set_aside,
)

# Words only: FTS5 operators, quotes, parentheses, NEAR(, '*', '-' and emoji all fall away,
# so no user text can be a syntax error. Each word is then quoted as an FTS5 string.
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TERMS = 64
MAX_REPEATS = 10  # the shared collections' queries repeat a word at most 9 times (CISI)
# BM25 column weights: a passage's own words, and its neighbours' (schema migration 4). Half
# weight for the neighbours: of 0.3, 0.5 and 0.7 it is within 0.008 of the best on every
# shared collection and on the known-item lookups, and the best on SciFact
# (bench/neighbour_study.py; the numbers are in BENCHMARKS.md). With the whole file's BM25
# beside it (files_fts) the column still holds CISI's keyword nDCG@10 up (0.373, against 0.367
# without it), so it stays; since migration 9 it is derived from chunks, not a copy.
RANK = "bm25(chunks_fts, 1.0, 0.5)"

# Joining every word with OR (as BM25 baselines do) is right for ranking, but a term that
# appears in most passages makes FTS5 visit the whole index while adding almost no score.
# These are dropped unless the query is made of nothing else.
STOPWORDS = frozenset(
    """a an and are as at be but by for from has have he her his how i in is it its of on or
    she so than that the their them then there these they this to was we were what when where
    which who whom why will with you your""".split()
)


class KeywordHit(NamedTuple):
    """A tuple, not a frozen dataclass: a search makes 1,100 of them, at twice the cost."""

    chunk_id: int
    score: float  # -bm25: higher is better
    rank: int  # 1-based


def query_terms(text: str) -> list[str]:
    """The distinct words of a query, in order, without stopwords when others remain."""
    return list(_term_counts(text))


def _term_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for match in _WORD.finditer(text.lower()):
        word = match.group().strip("_")
        if word:
            counts[word] = counts.get(word, 0) + 1
    content = {w: n for w, n in counts.items() if w not in STOPWORDS}
    return dict(list((content or counts).items())[:MAX_QUERY_TERMS])


def match_expression(text: str) -> str | None:
    """An FTS5 MATCH expression that ORs the query's words, or None when it has none.

    A word the query repeats is repeated in the expression (at most MAX_REPEATS times):
    FTS5's BM25 sums over the OR'd phrases, so this is BM25's query-term frequency. CISI's
    long questions repeat their key words; its keyword nDCG@10 went from 0.332 to 0.370
    (bench/document_keyword_study.py), and plain BM25 over whole documents gets 0.361 with
    repeats, as REFERENCE.md measures it, against 0.314 without.
    """
    counts = _term_counts(text)
    if not counts:
        return None
    phrases = []
    for term, count in counts.items():
        phrases.extend(['"' + term.replace('"', '""') + '"'] * min(count, MAX_REPEATS))
    return " OR ".join(phrases)


def keyword_search(
    conn: sqlite3.Connection,
    text: str,
    limit: int,
    where_sql: str = "",
    where_params: tuple[object, ...] = (),
    runs: Sequence[tuple[int, int]] | None = None,
) -> list[KeywordHit]:
    """Best passages for the query by BM25. `where_sql` filters on the `files` row `f`.

    `runs` (first, last chunk id ranges that hold every passage the filter allows) makes
    FTS5 read only those ranges of the index: a folder's passages are a few such runs, and
    joining every match in the whole index to its file cost more than ranking them.
    """
    expression = match_expression(text)
    if expression is None or limit <= 0:
        return []
    if where_sql:
        sql = (
            f"SELECT chunks_fts.rowid, {RANK} AS rank FROM chunks_fts "
            "JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id "
            f"WHERE chunks_fts MATCH ?{{range}} AND {where_sql} ORDER BY rank LIMIT ?"
        )
    else:
        # Without a filter the join only costs: on 50k passages it doubled the query time,
        # since SQLite joins every match before sorting. Every FTS row has its chunk (triggers).
        sql = (
            f"SELECT rowid, {RANK} AS rank FROM chunks_fts "
            "WHERE chunks_fts MATCH ?{range} ORDER BY rank LIMIT ?"
        )
    return _ranked(conn, sql, "chunks_fts.rowid", expression, where_params, limit, runs)


def document_search(
    conn: sqlite3.Connection,
    text: str,
    limit: int,
    where_sql: str = "",
    where_params: tuple[object, ...] = (),
    runs: Sequence[tuple[int, int]] | None = None,
) -> list[KeywordHit]:
    """Best files for the query by BM25 over each file's whole text (files_fts); the hits'
    ids are file ids. `where_sql` filters on the `files` row `f`; `runs` are ranges of file
    ids that hold every file it allows (as for keyword_search)."""
    expression = match_expression(text)
    if expression is None or limit <= 0:
        return []
    join = "JOIN files f ON f.id = files_fts.rowid " if where_sql else ""
    where = f" AND {where_sql}" if where_sql else ""
    sql = (
        f"SELECT files_fts.rowid, bm25(files_fts) AS rank FROM files_fts {join}"
        f"WHERE files_fts MATCH ?{{range}}{where} ORDER BY rank LIMIT ?"
    )
    return _ranked(conn, sql, "files_fts.rowid", expression, where_params, limit, runs)


# Passages and files are ranked side by side from a keyword index (numpy and pread let go of
# the GIL): at a million passages, 29 and 13 ms at the 95th percentile, one after the other.
_RANKERS = ThreadPoolExecutor(2, thread_name_prefix="dowse-bm25")


def postings_search(
    conn: sqlite3.Connection,
    postings: KeywordIndex,
    text: str,
    limit: int,
    file_limit: int,
    allowed: Sequence[int] | None = None,
    allowed_files: Sequence[int] | None = None,
) -> tuple[Future[list[KeywordHit]], Future[list[KeywordHit]]] | None:
    """keyword_search and document_search from a keyword index (engine/store/keyword_index.py:
    the same BM25 from its arrays), started on two threads;
    None when the query needs FTS5 (see _phrases). `allowed` and `allowed_files` are the ids
    a filter allows (None: every one)."""
    phrases = _phrases(conn, text)
    if phrases is None:
        return None
    return (_RANKERS.submit(_ranked_postings, postings, postings.chunks, phrases, limit,
                            allowed),
            _RANKERS.submit(_ranked_postings, postings, postings.files, phrases, file_limit,
                            allowed_files))


def _phrases(conn: sqlite3.Connection, text: str) -> list[tuple[str, int]] | None:
    """The query's FTS5 phrases as a keyword index scores them: each word one term, repeated
    as match_expression repeats it; None when a word is more than one token (a phrase, which
    needs positions the index does not keep), so FTS5 answers that query instead."""
    counts = _term_counts(text)
    tokens = fts_tokens(conn, counts)
    if any(len(t) > 1 for t in tokens.values()):
        return None
    return [(tokens[w][0], min(n, MAX_REPEATS)) for w, n in counts.items() if tokens[w]]


def _ranked_postings(
    index: KeywordIndex, table: TablePostings, phrases: list[tuple[str, int]], limit: int,
    allowed: Sequence[int] | None,
) -> list[KeywordHit]:
    """Raises DamagedIndexError (the index set aside) when its postings cannot be read."""
    keep = None
    if allowed is not None:
        keep = np.zeros(len(table.norm), dtype=bool)
        ids = np.asarray(allowed, dtype=np.int64)
        keep[ids[ids < len(keep)]] = True
    try:
        best = table.best(phrases, limit, keep)
    except (OSError, ValueError, IndexError) as exc:
        set_aside(index, exc)
        raise DamagedIndexError(str(exc)) from exc
    return [KeywordHit(i, s, rank) for rank, (i, s) in enumerate(best, 1)]


def _ranked(
    conn: sqlite3.Connection,
    sql: str,
    column: str,
    expression: str,
    where_params: tuple[object, ...],
    limit: int,
    runs: Sequence[tuple[int, int]] | None,
) -> list[KeywordHit]:
    """Run `sql` (its `{range}` marks where a rowid range goes) over the whole index, or over
    each of `runs` and merge: BM25's statistics are the whole index's either way, so the
    scores of separate runs compare, and the merged top `limit` is the same."""
    if runs is None:
        whole = sql.replace("{range}", "")
        rows = conn.execute(whole, (expression, *where_params, limit)).fetchall()
    else:
        ranged = sql.replace("{range}", f" AND {column} BETWEEN ? AND ?")
        rows = []
        for first, last in runs:
            rows += conn.execute(ranged, (expression, first, last, *where_params, limit))
        rows.sort(key=lambda r: (float(r[1]), int(r[0])))
        rows = rows[:limit]
    return [KeywordHit(int(r[0]), -float(r[1]), i + 1) for i, r in enumerate(rows)]


def matched_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Character spans of words in `text` that match a query term as FTS5 would (stemmed)."""
    terms = _query_stems(query)
    if not terms:
        return []
    return [(m.start(), m.end()) for m in _WORD.finditer(text) if _stem(m.group()) in terms]


def matches_query(query: str) -> Callable[[str], bool]:
    """Whether a word matches a query term as FTS5 would (stemmed), as matched_spans says."""
    terms = _query_stems(query)
    return lambda word: _stem(word) in terms


# Grouping results asks for the matched words of every candidate passage that may repeat a
# result (about 200 passages a query on a corpus of near-copies): stemming each word anew
# was 37% of a search's time there (py-spy, 1M passages). Words repeat, so stems are kept.
@lru_cache(maxsize=64)
def _query_stems(query: str) -> frozenset[str]:
    return frozenset(_stem(t) for t in query_terms(query))


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    word = word.lower()
    # A light suffix strip, close enough to FTS5's porter stemmer for highlighting;
    # ranking itself always uses FTS5.
    for suffix in ("ational", "ations", "ation", "ings", "ing", "edly", "ed", "ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
