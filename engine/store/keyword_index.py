"""BM25 over postings lists decoded into numpy arrays for large indexes, so a common word is
not scored match by match: FTS5 computes bm25() once per matching row (about 0.8 µs each),
and at a million passages a question's ordinary words match 30 to 50% of them (0.4 to 0.6 s
a query). Each term's list is a few bytes a posting (engine/store/postings_codec.py): 154
bytes a passage at a million, where uint32 ids and uint8 weights took 601.

The postings are FTS5's own, built from its `instance` vocabulary (engine/store/keyword_build):
tokens and stems are exactly FTS5's, and the scores are FTS5's bm25() to float rounding (same
k1, b, column weights, idf clamp). The file is derived, like the HNSW file: it is used only
while FTS5's content is exactly what it was built from (`freshness_key`), else the search goes
to FTS5 and the file is rebuilt at the next idle save point (`refresh_keyword_index`).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.store.postings_codec import PostingsFile

log = logging.getLogger(__name__)

KEYWORD_FILE = "keywords.postings"
MAGIC = b"DOWSEKW3"
TOKENIZE = "porter unicode61 remove_diacritics 2"  # as chunks_fts and files_fts (schema.py)
K1, B = 1.2, 0.75  # FTS5's bm25() constants (fts5_aux.c)
# Each table's columns with twice their bm25() weight (engine/store/keyword.py RANK), so the
# weighted frequencies stay integers.
TABLES: dict[str, dict[str, int]] = {"chunks_fts": {"text": 2, "nearby": 1},
                                     "files_fts": {"body": 2}}


class TermList:
    """A table's terms in FTS5's order (bytes, as memcmp sorts them), found by bisection: a
    dict of a real million passages' two million terms would cost hundreds of MB."""

    def __init__(self, blob: bytes) -> None:
        self._blob = blob
        ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == 0).astype(np.int64)
        self._first = np.r_[0, ends + 1] if blob else ends
        self._last = np.r_[ends, len(blob)] if blob else ends

    def __len__(self) -> int:
        return len(self._first)

    def _term(self, i: int) -> bytes:
        return self._blob[int(self._first[i]) : int(self._last[i])]

    def get(self, term: str) -> int | None:
        key = term.encode()
        i = bisect_left(range(len(self)), key, key=self._term)
        return i if i < len(self) and self._term(i) == key else None


@dataclass(frozen=True)
class TablePostings:
    """One FTS5 table's postings: term t has starts[t+1] - starts[t] rows, ascending, with
    their column-weighted frequencies, in bytes offsets[t]:offsets[t+1] of `postings`;
    `norm[rowid]` is bm25()'s length normalisation of a row, k1 (1 - b + b D / avgdl), with
    D its size in tokens (all columns), in the stored weights' units (twice the frequency
    over the header's `scale`): the same for every query, so it is worked out once."""

    terms: TermList
    starts: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    norm: npt.NDArray[np.float64]
    rows: int
    postings: PostingsFile
    bounds: npt.NDArray[np.float64]  # per term, its best freq (k1 + 1) / (freq + norm)

    def best(
        self, phrases: Sequence[tuple[str, int]], limit: int,
        keep: npt.NDArray[np.bool_] | None = None,
    ) -> list[tuple[int, float]]:
        """The `limit` best rows by BM25 (as `top` orders them), among those `keep` allows.

        Terms go from the largest possible contribution down (MaxScore). Once the `limit`-th
        best score so far beats all that the terms left could add, no row unseen yet can
        enter, so the rest are scored only for rows that still can, and fewer can as the
        terms left add less. Exact, ties included: a row left out ends strictly below the
        `limit`-th.
        """
        if not self.rows or limit <= 0:
            return []
        summed = np.zeros(len(self.norm))
        plan = []
        for term, repeats in phrases:
            t = self.terms.get(term)
            if t is None:
                continue
            first, last = int(self.starts[t]), int(self.starts[t + 1])
            idf = math.log((self.rows - (last - first) + 0.5) / (last - first + 0.5))
            weight = repeats * (idf if idf > 0 else 1e-6) * (K1 + 1)
            plan.append((weight * float(self.bounds[t]), weight, t, last - first))
        plan.sort(key=lambda p: -p[0])

        candidates: npt.NDArray[np.bool_] | None = None
        rows: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)  # the candidates, ascending
        looked_up: dict[np.dtype[Any], npt.NDArray[Any]] = {}  # rows in the ids' dtype
        checks, cut, tightened = 0, 0.0, 0.0
        for i, (_, weight, t, count) in enumerate(plan):
            left = sum(p[0] for p in plan[i:]) * (1 + 1e-9) + 1e-12  # float slack
            # A check costs about a millisecond: made before a long list, and once the last
            # cut (which only grows) comes within reach of what the terms left can add.
            if (candidates is None and i > 0 and checks < PRUNE_CHECKS
                    and count >= PRUNE_POSTINGS and (cut == 0 or left < PRUNE_REACH * cut)):
                checks += 1
                so_far = summed if keep is None else np.where(keep, summed, 0.0)
                cut = _kth(so_far, limit)
                if cut > left:
                    # Against one threshold: `so_far + left` was a new array of every row
                    # (2.3 ms a query at 1M, against 0.4). The slack in `left` covers the
                    # subtraction's rounding.
                    candidates = so_far >= cut - left
                    rows, tightened = np.flatnonzero(candidates), left
            elif candidates is not None and left < TIGHTEN * tightened:
                # What the terms left can add shrinks as they go: fewer rows can still reach
                # the cut (from 470,000 to a few thousand over a long question's last terms).
                still = summed[rows] + left >= cut
                candidates[rows[~still]] = False
                rows, tightened, looked_up = rows[still], left, {}
            ids, weights = self.postings.read(int(self.offsets[t]), int(self.offsets[t + 1]),
                                              count)
            if candidates is not None:
                if len(rows) * LOOKUP_SHARE < count:
                    wanted = looked_up.get(ids.dtype)
                    if wanted is None:
                        wanted = looked_up[ids.dtype] = rows.astype(ids.dtype)
                    at = np.searchsorted(ids, wanted)
                    np.minimum(at, count - 1, out=at)
                    at = at[ids[at] == wanted]
                    ids, weights = ids[at], weights[at]
                else:
                    chosen = candidates[ids]
                    ids, weights = ids[chosen], weights[chosen]
            if len(ids) < SPLIT_POSTINGS:
                self._add(summed, ids, weights, weight)
                continue
            # A long list in two halves on two threads: its rows are sorted, so the halves
            # add to different rows of `summed` (400,000 postings: 3.6 ms, 2.3 in halves).
            half = len(ids) // 2
            other = _HALVES.submit(self._add, summed, ids[half:], weights[half:], weight)
            self._add(summed, ids[:half], weights[:half], weight)
            other.result()
        if candidates is None:
            if keep is not None:
                summed[~keep] = 0.0
            best = top(summed, limit)
        else:
            # Every row left out scores below the cut, which `limit` candidates reach: the
            # best are among the candidates (a few thousand at the end, where ranking every
            # row took 1.2 ms a query at 1M).
            scores = summed[rows]
            if keep is not None:
                scores[~keep[rows]] = 0.0
            best = rows[top(scores, limit)]
        return list(zip(best.tolist(), summed[best].tolist(), strict=True))

    def _add(self, summed: npt.NDArray[np.float64], ids: npt.NDArray[Any],
             weights: npt.NDArray[Any], weight: float) -> None:
        """summed[ids] += weight freq / (freq + norm), in place (np.add.at: 2.6 ms for 400,000
        postings, against 3.4 for an indexed += and more for one bincount of every term)."""
        hits = ids.astype(np.intp, copy=False)
        freq = weights.astype(np.float64)  # in stored units, as `norm` is
        denominator = self.norm[hits]
        denominator += freq
        np.divide(freq, denominator, out=freq)
        freq *= weight
        np.add.at(summed, hits, freq)


def top(scores: npt.NDArray[np.float64], limit: int) -> npt.NDArray[np.intp]:
    """The `limit` best rows with a score above 0, best first (ties by id)."""
    matched = _above_sampled_cut(scores, limit)
    if matched is None:
        matched = np.flatnonzero(scores > 0)
    if len(matched) > limit:
        # The last place is shared among equal scores by the lowest ids, as FTS5 shares it.
        values = scores[matched]
        cut = values[np.argpartition(-values, limit - 1)[limit - 1]]
        above = matched[values > cut]
        matched = np.r_[above, matched[values == cut][: limit - len(above)]]
    order = np.lexsort((matched, -scores[matched]))
    return matched[order]


SAMPLE_EVERY = 64
SAMPLE_LEAST = 16
# Once pruned, candidates are looked up in a term's ids (binary search) when the list is
# LOOKUP_SHARE times longer than they are many, else each posting's row is looked up; and
# they are narrowed again once what the terms left can add has fallen by a fifth (TIGHTEN).
# At 1M, over the 200 questions (passages side, in process): narrowing 12% less time in
# all, binary search 6% less.
LOOKUP_SHARE = 16
TIGHTEN = 0.8
SPLIT_POSTINGS = 50_000
_HALVES = ThreadPoolExecutor(1, thread_name_prefix="dowse-bm25-half")
# When to check whether the rest of a query's terms can be pruned (a check costs about 1 ms):
# before a term of at least PRUNE_POSTINGS postings (never the first: nothing has scored
# yet), at most PRUNE_CHECKS times, while no cut is known or once the last cut is within
# PRUNE_REACH of what the terms left can add. (A first check before the first term used to
# find a cut of 0 and, that cut never growing, stop all later checks: 64 of the 200
# questions at 1M were never pruned.)
PRUNE_POSTINGS = 5_000
PRUNE_CHECKS = 12
PRUNE_REACH = 1.5


def _kth(scores: npt.NDArray[np.float64], limit: int) -> float:
    """The `limit`-th best score (0 when fewer rows score)."""
    passed = _above_sampled_cut(scores, limit)
    values = scores[passed] if passed is not None else scores[scores > 0]
    if len(values) < limit:
        return 0.0
    return float(np.partition(values, len(values) - limit)[len(values) - limit])


def _above_sampled_cut(
    scores: npt.NDArray[np.float64], limit: int
) -> npt.NDArray[np.intp] | None:
    """The rows scoring at or above a cut taken from every SAMPLE_EVERY-th row, set so that
    about twice `limit` rows pass it, and the cut at least SAMPLE_LEAST samples down;
    None unless at least `limit` rows pass (then they hold the best `limit`). Selecting
    among those few instead of every match (half of a million rows) took a ranking from 4
    to about 1 ms. A cut 4 samples down (for a limit of 100) let fewer than 100 through in
    one ranking in ten on the 200 questions at 1M, and each such miss cost 6 ms."""
    sample = scores[::SAMPLE_EVERY]
    k = max(2 * limit // SAMPLE_EVERY + 1, SAMPLE_LEAST)
    if len(sample) <= k:
        return None
    cut = float(np.partition(sample, len(sample) - k)[len(sample) - k])
    if cut <= 0:
        return None
    passed = np.flatnonzero(scores >= cut)
    return passed if len(passed) >= limit else None


@dataclass(frozen=True)
class KeywordIndex:
    key: str
    chunks: TablePostings
    files: TablePostings
    path: Path

    def fresh(self, conn: sqlite3.Connection) -> bool:
        return freshness_key(conn) == self.key


def freshness_key(conn: sqlite3.Connection) -> str:
    """What FTS5's content is, cheaply: the chunk id sequence (every new passage moves it)
    and both tables' averages records (row and token counts; every removal changes them)."""
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
    parts = [str(seq[0] if seq else 0)]
    for table in TABLES:
        row = conn.execute(f"SELECT block FROM {table}_data WHERE id = 1").fetchone()
        parts.append(bytes(row[0]).hex() if row else "")
    return ":".join(parts)


# -- query words as FTS5 tokenizes them ---------------------------------------------------------

_TOKENS: dict[str, tuple[str, ...]] = {}


def fts_tokens(conn: sqlite3.Connection, words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each word's tokens as FTS5's tokenizer makes them (stemmed), through a temporary FTS5
    table on `conn`: the same tokenizer by construction, not a copy of the porter stemmer."""
    words = list(dict.fromkeys(words))
    missing = [w for w in words if w not in _TOKENS]
    if missing:
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.dowse_words USING fts5("
                     f"w, tokenize='{TOKENIZE}')")
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.dowse_words_vocab USING "
                     "fts5vocab(temp, dowse_words, instance)")
        conn.execute("DELETE FROM temp.dowse_words")
        conn.executemany("INSERT INTO temp.dowse_words(rowid, w) VALUES (?, ?)",
                         list(enumerate(missing)))
        found: dict[int, list[tuple[int, str]]] = {}
        for doc, offset, term in conn.execute(
                "SELECT doc, offset, term FROM temp.dowse_words_vocab"):
            found.setdefault(int(doc), []).append((int(offset), str(term)))
        conn.execute("DELETE FROM temp.dowse_words")
        if len(_TOKENS) > 100_000:
            _TOKENS.clear()
        for i, word in enumerate(missing):
            _TOKENS[word] = tuple(term for _, term in sorted(found.get(i, [])))
    return {w: _TOKENS[w] for w in words}


# -- the file ---------------------------------------------------------------------------------

_OPEN: dict[Path, tuple[tuple[int, int, int], KeywordIndex | None]] = {}


def open_keyword_index(db_path: Path) -> KeywordIndex | None:
    """The keyword index beside the database, mapped once per process and again only when
    the file is replaced; None when there is none or it cannot be read."""
    path = db_path.parent / KEYWORD_FILE
    try:
        st = path.stat()
    except OSError:
        _OPEN.pop(path, None)
        return None
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _OPEN.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        index: KeywordIndex | None = _load(path)
    except OlderFormatError as exc:
        # An upgrade's: FTS5 answers until the next idle save point rebuilds it.
        log.info("not using the keyword index %s until it is rebuilt: %s", path, exc)
        index = None
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring the keyword index %s: %s", path, exc)
        index = None
    _OPEN[path] = (stamp, index)
    return index


class DamagedIndexError(Exception):
    """Postings that cannot be read as their header says (a damaged disk, a file cut short):
    the index is set aside until it is rebuilt, and FTS5 answers meanwhile."""


def set_aside(index: KeywordIndex, reason: BaseException) -> None:
    """Stop using `index` in this process until its file is replaced (by a rebuild)."""
    cached = _OPEN.get(index.path)
    if cached is not None and cached[1] is index:
        _OPEN[index.path] = (cached[0], None)
    log.warning("setting the keyword index %s aside until it is rebuilt: %s", index.path,
                reason)


class OlderFormatError(ValueError):
    """A keyword index written by an earlier version of the engine."""


def _load(path: Path) -> KeywordIndex:
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(size - 16)
        length, magic = int.from_bytes(f.read(8), "little"), f.read(8)
        if magic[:7] == MAGIC[:7] and magic != MAGIC:
            raise OlderFormatError(f"written in format {magic[7:].decode(errors='replace')}, "
                                   f"this engine reads {MAGIC[7:].decode()}")
        if magic != MAGIC or length > size - 16:
            raise ValueError("not a keyword index")
        f.seek(size - 16 - length)
        header = json.loads(f.read(length))

    def section(entry: dict[str, Any]) -> np.ndarray[Any, Any]:
        count = int(entry["count"])
        if count == 0:
            return np.zeros(0, dtype=entry["dtype"])
        return np.memmap(path, dtype=entry["dtype"], mode="r", offset=int(entry["offset"]),
                         shape=(count,))

    tables = {}
    for name, meta in header["tables"].items():
        rows = int(meta["rows"])
        # In the stored weights' units (a power of two apart, so the same scores exactly):
        # a posting's weight then needs no scaling before it is scored.
        scale = int(meta["scale"])
        norm = length_norm(section(meta["lengths"]), rows, int(meta["tokens"])) / (0.5 * scale)
        tables[name] = TablePostings(
            terms=TermList(bytes(section(meta["terms"]))), starts=np.array(section(meta["starts"])),
            offsets=np.array(section(meta["offsets"])), norm=norm, rows=rows,
            postings=PostingsFile(path, meta["postings"]),
            bounds=np.array(section(meta["bounds"])))
    return KeywordIndex(str(header["key"]), tables["chunks_fts"], tables["files_fts"], path)


def length_norm(lengths: npt.NDArray[Any], rows: int, tokens: int) -> npt.NDArray[np.float64]:
    """bm25()'s length normalisation of every row, k1 (1 - b + b D / avgdl)."""
    return np.asarray(K1 * (1 - B + B * lengths / (tokens / max(rows, 1))), dtype=np.float64)
