"""A page's word pieces from the pieces of each distinct word, each word tokenized once.

Where the tokenizer splits at white space and normalizes character by character (BERT's
WordPiece does: PassageTokenizer.splits_at_spaces), a word between spaces, tabs and line
breaks tokenizes alone exactly as it does inside its page. Words repeat (a page of prose is
a few hundred distinct words, a folder of them a few hundred thousand), so each distinct word
is tokenized once, its pieces kept, and a page's pieces are put together from its words' with
numpy. The words a page brings that are not known yet go to the tokenizer together, as one
string, so a new word costs what it costs inside a page.

On 600 pages of python3-doc (12.6 million characters) that took 2.2 times less time than
tokenizing each page whole with an empty cache, 5.2 times less warm (bench/word_pieces.py).
One lock: a process may chunk on more than one thread.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.ingest.ascii_pieces import AsciiWordPiece

# The characters every splitting pre-tokenizer splits at (chunk._BREAKS).
_SPACES = re.compile(r"([ \t\n\r]+)")
# Kept words at most: about 350 bytes each, most of it the word and its dict entry (python3-doc
# has 320,000 distinct words, 189,000 of them used once; 200,000 kept made each extraction
# child 60 to 90 MB larger, and 100,000 halved that but took the warm speed-up from 5x to 2x).
# When a page would take
# the cache past that, the most used half is kept (a word counted once for each time a page
# holds it). The engine's extraction children, and so their words, go whenever it is idle.
MAX_WORDS = 200_000
# New words of printable ASCII go to engine/ingest/ascii_pieces.py when a page brings at least
# this many: its numpy steps cost more than the tokenizer for fewer (one to three new words a
# page: 1.1-1.2x slower; ten: 1.2x faster; a hundred: 2.2x; a thousand: 3.2x).
ASCII_MIN_WORDS = 8

Encode = Callable[[str], tuple[list[int], list[tuple[int, int]]]]
Ids = npt.NDArray[np.int32]


class WordPieces:
    """Kept word pieces: for word w, entry e = index[w] has count[e] pieces from first[e] in
    the flat arrays of ids and of spans within the word; hits[e] is how often it was used."""

    def __init__(
        self, encode: Encode, max_words: int = MAX_WORDS, ascii: AsciiWordPiece | None = None
    ) -> None:
        self._encode = encode
        self._ascii = ascii  # BERT's WordPiece in Python, for words of printable ASCII
        self._max_words = max_words
        self._lock = threading.Lock()
        self._index: dict[str, int] = {"": 0}  # the empty "word" before a leading space
        self._word_of = [""]
        self._first = np.zeros(1024, dtype=np.int32)
        self._count = np.zeros(1024, dtype=np.int32)
        self._hits = np.zeros(1024, dtype=np.int64)
        self._ids = np.zeros(4096, dtype=np.int32)
        self._starts = np.zeros(4096, dtype=np.int32)
        self._ends = np.zeros(4096, dtype=np.int32)
        self._words, self._pieces = 1, 0

    @classmethod
    def of(cls, backend: Any, encode: Encode) -> WordPieces:
        """For a tokenizers.Tokenizer: words of printable ASCII are matched in Python where
        it is BERT's (engine/ingest/ascii_pieces.py: the same pieces, three times faster)."""
        return cls(encode, ascii=AsciiWordPiece.of(backend))

    def encode(self, text: str) -> tuple[list[int], list[int], list[int]]:
        """The word pieces of `text` (no special tokens): their ids, and the character offset
        in `text` where each starts and ends, as the tokenizer gives them for `text` whole."""
        ids, starts, ends = self.encode_at(text, 0)
        return ids.tolist(), starts, ends

    def encode_at(self, text: str, base: int) -> tuple[Ids, list[int], list[int]]:
        """encode(), with the ids as an array and each offset moved on by `base` (where
        `text` starts in its page)."""
        with self._lock:
            return self._put_together(text, base)

    def _put_together(self, text: str, base: int) -> tuple[Ids, list[int], list[int]]:
        parts = _SPACES.split(text)
        words = parts[0::2]
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        at = np.cumsum(lengths) - lengths + base  # where each part starts in the page
        missing = set(words).difference(self._index)
        if missing:
            if self._words + len(missing) > self._max_words:
                self._keep_most_used(self._max_words // 2)
                missing = set(words).difference(self._index)  # this page's, if they went
            self._learn(sorted(missing))
        index = self._index
        entries = np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words))
        np.add.at(self._hits, entries, 1)
        counts = self._count[entries]
        total = int(counts.sum())
        if not total:
            return self._ids[:0].copy(), [], []
        # Piece j of the page is piece (j - its word's first piece) of its word's entry.
        ends_of = np.cumsum(counts)
        rank = np.arange(total, dtype=np.int64) - np.repeat(ends_of - counts, counts)
        flat = np.repeat(self._first[entries], counts) + rank
        word_at = np.repeat(at[0::2], counts)
        return (self._ids[flat], (word_at + self._starts[flat]).tolist(),
                (word_at + self._ends[flat]).tolist())

    def _learn(self, words: list[str]) -> None:
        """Tokenize `words` together, one space apart, and keep each one's pieces."""
        if self._ascii is not None and len(words) >= ASCII_MIN_WORDS:
            covered: list[str] = []
            others: list[str] = []
            for word in words:
                (covered if self._ascii.covers(word) else others).append(word)
            if covered:
                self._keep(covered, *self._ascii.encode(" ".join(covered)))
            if not others:
                return
            words = others
        ids, spans = self._encode(" ".join(words))
        both = np.array(spans, dtype=np.int64).reshape(len(spans), 2)
        self._keep(words, np.asarray(ids, dtype=np.int32), both[:, 0], both[:, 1])

    def _keep(
        self, words: list[str], ids: Ids, starts: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64],
    ) -> None:
        """Keep each word's pieces, given the pieces of the words joined one space apart."""
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        word_at = np.cumsum(lengths + 1) - lengths - 1
        owner = np.searchsorted(word_at, starts, side="right") - 1
        counts = np.bincount(owner, minlength=len(words))
        n, m = len(words), len(ids)
        first_entry, first_piece = self._words, self._pieces
        self._grow(n, m)
        self._count[first_entry : first_entry + n] = counts
        self._first[first_entry : first_entry + n] = first_piece + np.cumsum(counts) - counts
        self._hits[first_entry : first_entry + n] = 0
        self._ids[first_piece : first_piece + m] = ids
        self._starts[first_piece : first_piece + m] = starts - word_at[owner]
        self._ends[first_piece : first_piece + m] = ends - word_at[owner]
        self._index.update(zip(words, range(first_entry, first_entry + n), strict=True))
        self._word_of += words
        self._words += n
        self._pieces += m

    def _keep_most_used(self, keep: int) -> None:
        """Only the `keep` most used words stay (the empty one always), their uses halved."""
        hits = self._hits[: self._words].copy()
        hits[0] = np.iinfo(np.int64).max
        kept = np.sort(np.argsort(-hits, kind="stable")[:keep])
        counts = self._count[kept]
        first = np.cumsum(counts) - counts
        total = int(counts.sum())
        flat = np.repeat(self._first[kept], counts) + (
            np.arange(total, dtype=np.int64) - np.repeat(first, counts))
        for array in (self._ids, self._starts, self._ends):
            array[:total] = array[flat]
        n = len(kept)
        self._count[:n], self._first[:n] = counts, first
        self._hits[:n] = self._hits[kept] // 2
        self._word_of = [self._word_of[i] for i in kept.tolist()]
        self._index = {w: i for i, w in enumerate(self._word_of)}
        self._words, self._pieces = n, total

    def _grow(self, words: int, pieces: int) -> None:
        def grown(array: npt.NDArray[Any], needed: int) -> npt.NDArray[Any]:
            if needed <= len(array):
                return array
            bigger = np.zeros(max(needed, 2 * len(array)), dtype=array.dtype)
            bigger[: len(array)] = array
            return bigger

        self._first = grown(self._first, self._words + words)
        self._count = grown(self._count, self._words + words)
        self._hits = grown(self._hits, self._words + words)
        self._ids = grown(self._ids, self._pieces + pieces)
        self._starts = grown(self._starts, self._pieces + pieces)
        self._ends = grown(self._ends, self._pieces + pieces)
