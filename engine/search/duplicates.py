"""Finds results that repeat an earlier one: the same passage saved as a DOCX and its PDF,
a page and its Markdown source, report-v2 and report-v3. Each shows once, with "also in".

A file's best passage is a copy of a result shown before it when its words are the same
(exact: a hash of its lower-cased words), or when it nearly is: its stored vector is within
NEAR_COSINE of one of that result's passages, and at least NEAR_OVERLAP of its word 3-grams
are found among that result's NEAREST such passages. Containment of the one passage rather
than Jaccard of two, and several passages rather than one, because two copies are cut into
passages at different places (markup moves the cuts), so a passage's twin is often split.
The words decide: different texts on one subject are close in meaning but share few 3-grams.
When a query matched words in the passage, the 3-grams around them must be shared as well,
so two files built on one template are not taken for one when the query found what differs.

Measured by bench/duplicate_study.py (BENCHMARKS.md, "near-duplicates"): of 4,000 passages
of python3-doc's HTML pages, 77.7% are joined to their `.rst.txt` source at 0.7 and 0.5 (the
rest have no counterpart there: menus, tables rebuilt from markup; at 0.6, 79.9%); of 4,000
SciFact passages against the nearest other abstract, none (the 99.9th percentile of
containment is 0.25); in NFCorpus 2.4%, 91 of 95 of them exact duplicates that NFCorpus holds
under two ids. In the hybrid top ten of 40 questions over python3-doc, 284 of 400 results
had their other copy beside them; 62 do now.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.store.vector_blobs import decode_vectors

NEAR_COSINE = 0.7
NEAR_OVERLAP = 0.5
SHINGLE = 3
MIN_GRAMS = 10  # a shorter passage (a heading, a line of a menu) is a copy only when exact
NEAREST = 3  # a result's passages nearest to the one compared, whose words are looked at
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Copy:
    """Where else a result's passage is found: another file, and the passage there."""

    path: str
    page: int | None
    start: int
    end: int


def text_key(text: str) -> str:
    """Equal for passages with the same text, whatever their spacing or case."""
    return hashlib.blake2b(_normal(text).encode(), digest_size=16).hexdigest()


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def shingles(text: str) -> set[tuple[str, ...]]:
    return _grams(_WORD.findall(text.lower()))


def _grams(tokens: list[str]) -> set[tuple[str, ...]]:
    return set(_gram_list(tokens))


def _gram_list(tokens: list[str]) -> list[tuple[str, ...]]:
    """The 3-grams of `tokens` in order (the i-th starts at word i); the words themselves, as
    one gram, when there are fewer."""
    if len(tokens) < SHINGLE:
        return [tuple(tokens)] if tokens else []
    return list(zip(*(tokens[i:] for i in range(SHINGLE)), strict=False))


def _grams_holding(grams: list[tuple[str, ...]], marked: set[str]) -> set[tuple[str, ...]]:
    """The 3-grams (of `_gram_list`) that hold one of the words `marked`: the words a query
    matched, with what stands beside them."""
    if not marked:
        return set()
    return {gram for gram in grams if not marked.isdisjoint(gram)}


def containment(a: set[tuple[str, ...]], b: set[tuple[str, ...]]) -> float:
    """Share of the smaller set found in the other."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def stored_vectors(
    conn: sqlite3.Connection, chunk_ids: Sequence[int] = (), file_id: int | None = None,
    limit: int = 0,
) -> dict[int, np.ndarray]:
    """Unit vectors of the passages that have one (`chunks.vector`, read through
    engine/store/vector_blobs.py): those of `chunk_ids`, or the first `limit` passages of
    file `file_id`."""
    if file_id is not None:
        rows = conn.execute(
            "SELECT id, vector FROM chunks WHERE file_id = ? AND vector IS NOT NULL"
            " ORDER BY ordinal LIMIT ?", (file_id, limit),
        ).fetchall()
    else:
        ids, rows = list(dict.fromkeys(chunk_ids)), []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            rows += conn.execute(
                f"SELECT id, vector FROM chunks WHERE id IN ({marks}) AND vector IS NOT NULL",
                part,
            ).fetchall()
    if not rows:
        return {}
    known = conn.execute("SELECT value FROM meta WHERE key = 'model_dim'").fetchone()
    blobs = [bytes(r[1]) for r in rows]
    dim = int(known[0]) if known else len(blobs[0]) // 2  # no model recorded: float16
    matrix = decode_vectors(blobs, dim)
    norms = np.linalg.norm(matrix, axis=1)
    return {int(r[0]): matrix[i] for i, r in enumerate(rows) if norms[i] > 0}


def passage_texts(conn: sqlite3.Connection, chunk_ids: Sequence[int]) -> dict[int, str]:
    marks = ",".join("?" * len(chunk_ids))
    rows = conn.execute(f"SELECT id, text FROM chunks WHERE id IN ({marks})", list(chunk_ids))
    return {int(cid): str(text) for cid, text in rows}


class CopyFinder:
    """Remembers the results shown so far by their passages' vectors; says which result a new
    passage repeats, if any.

    A passage is compared with the NEAREST passages of each result (by vector) together: two
    copies are cut into passages at different places, so a passage's twin is often split
    over two. The vectors go first (one product with every remembered passage); only results
    with a passage within `cosine` have their words compared, and a remembered passage's
    text is read (`texts`) only then. A passage without a stored vector (a keyword-only
    index) has its words compared with the known passages of every result shown.
    """

    def __init__(
        self,
        vectors: dict[int, np.ndarray],
        cosine: float = NEAR_COSINE,
        overlap: float = NEAR_OVERLAP,
        texts: Callable[[Sequence[int]], dict[int, str]] | None = None,
    ) -> None:
        self.vectors = vectors
        self.cosine = cosine
        self.overlap = overlap
        self._fetch = texts
        self._texts: dict[int, str] = {}
        self._grams: dict[int, set[tuple[str, ...]]] = {}
        self._keys: dict[str, int] = {}  # a shown passage's text as text_key sees it (no hash)
        self._unions: dict[tuple[int, ...], set[tuple[str, ...]]] = {}
        self._matched: dict[str, bool] = {}  # what `_matched_by` said of each word
        self._hits: set[str] = set()  # the words it said yes to
        self._matched_by: Callable[[str], bool] | None = None
        self._members: list[list[int]] = []  # per result shown, the passages remembered
        self._unvectored: list[int] = []  # results with a passage that has no vector
        dim = len(next(iter(vectors.values()))) if vectors else 0
        self._matrix = np.zeros((64, dim), dtype=np.float32)  # every remembered vector
        self._owner = np.zeros(64, dtype=np.int64)  # the result each row belongs to
        self._row_ids: list[int] = []

    def original_of(
        self,
        chunk_id: int,
        text: str,
        matched: Callable[[str], bool] | None = None,
    ) -> int | None:
        """Index (in the order added) of the shown result this passage repeats, else None.

        `matched` says whether a query matched a word of `text` (lower-cased; asked only when
        the rest agrees): the words it matched must be among the shared words too, so two
        files with a common template are not taken for one when the query found what
        differs between them. (A predicate on words the passage is split into once: spans
        found by a second pass over the text were a quarter of a keyword search's time on a
        million near-copies.)
        """
        found = self._keys.get(_normal(text))
        if found is not None or not self._members:
            return found
        mine = self.vectors.get(chunk_id)
        near: dict[int, list[int]] = {}
        if mine is not None and self._row_ids:
            sims = self._matrix[: len(self._row_ids)] @ mine
            close = np.flatnonzero(sims >= self.cosine)
            close = close[np.argsort(-sims[close])]
            for owner, row in zip(self._owner[close].tolist(), close.tolist(), strict=True):
                nearest = near.setdefault(owner, [])
                if len(nearest) < NEAREST:
                    nearest.append(self._row_ids[row])
        for index in self._unvectored if mine is not None else range(len(self._members)):
            near.setdefault(index, [c for c in self._members[index] if c in self._texts])
        tokens = _WORD.findall(text.lower()) if near else []
        in_order = _gram_list(tokens)
        grams = set(in_order)
        if near:
            self._grams.setdefault(chunk_id, grams)  # for _union, if this result is shown
        if len(grams) < MIN_GRAMS:
            return None
        focus: set[tuple[str, ...]] | None = None
        for index in sorted(near):
            union = self._union(near[index])
            if containment(grams, union) < self.overlap:
                continue
            if focus is None:
                focus = _grams_holding(in_order, self._matched_words(tokens, matched))
            if not focus or len(focus & union) >= self.overlap * len(focus):
                return index
        return None

    def _matched_words(
        self, tokens: list[str], matched: Callable[[str], bool] | None
    ) -> set[str]:
        """The words of `tokens` the query matched (each word asked once a search: the same
        words come back in every near-copy compared)."""
        if matched is None:
            return set()
        if matched is not self._matched_by:
            self._matched, self._hits, self._matched_by = {}, set(), matched
        known, hits = self._matched, self._hits
        words = set(tokens)
        for word in words.difference(known):
            known[word] = found = matched(word)
            if found:
                hits.add(word)
        return hits.intersection(words)

    def add(self, passages: Sequence[tuple[int, str | None]]) -> int:
        """Remember a result shown, by its (chunk id, text or None) passages; a text left
        out is read when it is needed. Returns the result's index."""
        index = len(self._members)
        self._members.append([cid for cid, _ in passages])
        for chunk_id, text in passages:
            if text is not None:
                self._texts[chunk_id] = text
                self._keys.setdefault(_normal(text), index)
            vector = self.vectors.get(chunk_id)
            if vector is None:
                if text is not None and index not in self._unvectored:
                    self._unvectored.append(index)
                continue
            row = len(self._row_ids)
            if row >= len(self._matrix):
                self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
                self._owner = np.concatenate([self._owner, np.zeros_like(self._owner)])
            self._matrix[row] = vector
            self._owner[row] = index
            self._row_ids.append(chunk_id)
        return index

    def _union(self, chunk_ids: list[int]) -> set[tuple[str, ...]]:
        """The 3-grams of these remembered passages together (the same few passages of a
        result come back for each of its near-copies, so each union is made once)."""
        key = tuple(chunk_ids)
        out = self._unions.get(key)
        if out is not None:
            return out
        missing = [c for c in chunk_ids if c not in self._texts]
        if missing and self._fetch is not None:
            self._texts.update(self._fetch(missing))
        out = set()
        for cid in chunk_ids:
            if cid not in self._grams and cid in self._texts:
                self._grams[cid] = shingles(self._texts[cid])
            out |= self._grams.get(cid, set())
        if all(cid in self._texts for cid in chunk_ids):  # else a text may still come
            self._unions[key] = out
        return out
