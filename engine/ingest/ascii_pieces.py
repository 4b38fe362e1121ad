"""BERT's WordPiece for words of printable ASCII, in Python, as tokenizers gives them.

Learning a word it has not seen is most of what engine/ingest/word_pieces.py still spends
on tokenizing: python3-doc brings 230,000 distinct words between spaces (its code, paths and
identifiers), and the tokenizers library takes about 23 µs for each, most of it normalizing
and splitting with an offset kept for every character. For a word of printable ASCII none of
that can change anything but case: BERT's normalizer only lowercases it (nothing to strip,
clean or space out), its pre-tokenizer cuts it into runs of letters and digits and single
punctuation characters, and each run goes through the WordPiece model's greedy longest match,
whose answer for a run is kept. Words with anything else in them (other characters, an added
token such as "[SEP]" in their text) go to the tokenizer as before.

Used only where the tokenizer's own description says it is exactly this: a BertNormalizer,
the BertPreTokenizer and a WordPiece model (AsciiWordPiece.of gives None otherwise).
tests/engine/ingest/test_ascii_pieces.py checks it against the tokenizer word for word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

# Runs kept at most (python3-doc's 230,000 words hold 37,000 distinct runs); past that the
# table starts again, so a folder of hashes or numbers cannot grow it without end.
MAX_RUNS = 100_000
_PRINTABLE = re.compile(r"[!-~]+")
# Runs of letters and digits, single punctuation characters, and the spaces between words.
_RUNS = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9]")

Ids = npt.NDArray[np.int32]
Offsets = npt.NDArray[np.int64]


class AsciiWordPiece:
    """Word pieces of printable ASCII words: each run of letters and digits matched once.

    For run r, entry e = index[r] has count[e] pieces from first[e] in the flat arrays of ids
    and of spans within the run; entry 0 is the space between two words, with no pieces.
    """

    def __init__(
        self,
        vocab: dict[str, int],
        unk_token: str,
        prefix: str,
        max_chars: int,
        lowercase: bool,
        added: list[str],
    ) -> None:
        self._unk = vocab[unk_token]
        self._max_chars = max_chars
        self._lowercase = lowercase
        added = [a for a in added if a]
        # Added tokens are found in the text before it is normalized, or after where they are
        # "normalized": either way, a word holding one in any case is left to the tokenizer.
        self._added = re.compile("|".join(map(re.escape, added)), re.IGNORECASE) if added else None
        # Every start of a piece, for the first piece of a run and for the pieces after it
        # (without their prefix): its id where it is a piece itself, else -1.
        self._first_pieces = _starts_of(vocab.items())
        self._next = _starts_of(
            (p[len(prefix):], i) for p, i in vocab.items() if p.startswith(prefix))
        self._clear()

    def _clear(self) -> None:
        self._index: dict[str, int] = {" ": 0}
        self._count = np.zeros(1024, dtype=np.int64)  # used: the first len(self._index)
        self._first = np.zeros(1024, dtype=np.int64)
        self._ids = np.zeros(4096, dtype=np.int32)  # used: the first self._pieces
        self._starts = np.zeros(4096, dtype=np.int64)
        self._ends = np.zeros(4096, dtype=np.int64)
        self._pieces = 0

    @classmethod
    def of(cls, backend: Any) -> AsciiWordPiece | None:
        """The fast path for a tokenizers.Tokenizer, or None where it would not be exact."""
        try:
            spec = json.loads(backend.to_str())
        except (AttributeError, TypeError, ValueError):
            return None
        normalizer = spec.get("normalizer") or {}
        pre = spec.get("pre_tokenizer") or {}
        model = spec.get("model") or {}
        if (
            normalizer.get("type") != "BertNormalizer"
            or pre.get("type") != "BertPreTokenizer"
            or model.get("type") != "WordPiece"
            or not isinstance(model.get("vocab"), dict)
            or model.get("unk_token") not in model["vocab"]
        ):
            return None
        added = [str(t.get("content", "")) for t in spec.get("added_tokens") or []]
        if any(any(c.isspace() for c in a) for a in added):
            return None  # one could span two words, which are looked at one by one
        return cls(
            vocab=model["vocab"],
            unk_token=model["unk_token"],
            prefix=str(model.get("continuing_subword_prefix", "##")),
            max_chars=int(model.get("max_input_chars_per_word", 100)),
            lowercase=bool(normalizer.get("lowercase", True)),
            added=added,
        )

    def covers(self, word: str) -> bool:
        """Whether `word` (no white space in it) is one this path tokenizes exactly."""
        if _PRINTABLE.fullmatch(word) is None:
            return False
        return self._added is None or self._added.search(word) is None

    def encode(self, text: str) -> tuple[Ids, Offsets, Offsets]:
        """The word pieces of covered words one space apart: their ids, and where each
        starts and ends in `text`, as the tokenizer gives them."""
        runs = _RUNS.findall(text.lower() if self._lowercase else text)
        index = self._index
        new = set(runs).difference(index)
        if new:
            if len(index) + len(new) > MAX_RUNS:
                self._clear()
                index = self._index
                new = set(runs).difference(index)
            self._learn(sorted(new))
        entries = np.fromiter(map(index.__getitem__, runs), dtype=np.int64, count=len(runs))
        lengths = np.fromiter(map(len, runs), dtype=np.int64, count=len(runs))
        count = self._count[entries]
        total = int(count.sum())
        ends_of = np.cumsum(count)
        flat = np.repeat(self._first[entries], count) + (
            np.arange(total, dtype=np.int64) - np.repeat(ends_of - count, count))
        run_at = np.repeat(np.cumsum(lengths) - lengths, count)
        return self._ids[flat], run_at + self._starts[flat], run_at + self._ends[flat]

    def _learn(self, runs: list[str]) -> None:
        """Match each new run and append its pieces to the flat arrays."""
        counts, ids, starts, ends = [], [], [], []
        for run in runs:
            run_ids, run_starts, run_ends = self._match(run)
            counts.append(len(run_ids))
            ids += run_ids
            starts += run_starts
            ends += run_ends
        entry, piece = len(self._index), self._pieces
        first = piece + np.cumsum(counts) - counts
        self._count = _put(self._count, entry, counts)
        self._first = _put(self._first, entry, first)
        self._ids = _put(self._ids, piece, ids)
        self._starts = _put(self._starts, piece, starts)
        self._ends = _put(self._ends, piece, ends)
        self._index.update(zip(runs, range(entry, entry + len(runs)), strict=True))
        self._pieces += len(ids)

    def _match(self, run: str) -> tuple[list[int], list[int], list[int]]:
        """WordPiece's greedy longest match, as tokenizers' WordPiece.tokenize does it.

        tokenizers tries the longest piece first and shortens it a character at a time; this
        grows it instead, while it is the start of some piece (_first_pieces, _next), and keeps
        the longest one in the vocabulary: the same piece, in a few lookups instead of up to
        the longest piece's length (a run of hex digits is mostly one-character pieces)."""
        n = len(run)
        if n > self._max_chars:
            return [self._unk], [0], [n]
        ids, starts, ends = [], [], []
        start = 0
        while start < n:
            grown = self._next if start else self._first_pieces
            found, found_end = -1, start
            for end in range(start + 1, n + 1):
                piece = grown.get(run[start:end])
                if piece is None:
                    break  # no piece starts with this: none longer can match
                if piece >= 0:
                    found, found_end = piece, end
            if found < 0:
                return [self._unk], [0], [n]
            ids.append(found)
            starts.append(start)
            ends.append(found_end)
            start = found_end
        return ids, starts, ends


def _starts_of(pieces: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Each piece, and each of its starts (-1 where that is not a piece itself)."""
    starts: dict[str, int] = {}
    for piece, piece_id in pieces:
        for end in range(1, len(piece)):
            starts.setdefault(piece[:end], -1)
        starts[piece] = piece_id
    return starts


def _put(array: npt.NDArray[Any], at: int, values: Any) -> npt.NDArray[Any]:
    """`values` written into `array` from `at`, in a copy twice as large where it is full (so
    appending a page's few new runs costs those runs, not the table)."""
    values = np.asarray(values, dtype=array.dtype)
    end = at + len(values)
    if end > len(array):
        bigger = np.zeros(max(end, 2 * len(array)), dtype=array.dtype)
        bigger[:at] = array[:at]
        array = bigger
    array[at:end] = values
    return array
