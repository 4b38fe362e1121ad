"""Cut extracted text into passages the encoder can read whole, so no word is silently truncated."""

from __future__ import annotations

import logging
import re
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import ChunkConfig
from engine.embed.model_dir import read_model_info
from engine.embed.tokenizer_file import load_tokenizer_file
from engine.extract.base import Extracted, ExtractError
from engine.ingest.word_pieces import WordPieces

log = logging.getLogger(__name__)

# One character can become several word pieces (a Hangul syllable splits into its jamo), so
# a smaller budget could leave a single character too long to fit.
MIN_BUDGET = 8

# Where a passage may end, best first: a blank line, a sentence end, a word end.
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n|\u2029")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)|[。！？]")
# Greedy, so one match finds the last word end without walking every word in the window.
_LAST_WORD_END = re.compile(r"(?s).*\S(?=\s)")
# Where a passage may begin: after whitespace or a CJK full stop.
_WORD_START = re.compile(r"(?<=[\s。！？])(?=\S)")
_LAST_WORD_START = re.compile(r"(?s).*(?<=[\s。！？])(?=\S)")
_SENTENCE_PUNCT = frozenset(".!?…。！？")
# Where a sentence begins (its first word): after a sentence end, closing quotes or brackets
# and white space; after white space holding a blank line or a paragraph separator; right
# after a CJK full stop. One pass over a page instead of a look back from every word start.
_SENTENCE_START = re.compile(r"(?:[.!?…。！？][\"'”’)\]]*\s+|\n\s*\n\s*|\u2029\s*)(?=\S)")
_AFTER_CJK_STOP = re.compile(r"(?<=[。！？])(?=\S)")  # apart: it can fall inside the above
_CLOSERS = frozenset("\"'”’)]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SPACE_SPLITTING = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit"})
_PER_CHARACTER = frozenset({"NoneType", "BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC",
                            "NFKD", "StripAccents"})
# Characters every one of those pre-tokenizers splits at (Python's isspace() also takes
# \x1c-\x1f, which BERT's normalizer deletes, joining the words either side).
_BREAKS = frozenset(" \t\n\r")
# Longer pages are chunked in blocks this long (see chunk_document); a block boundary is a
# forced passage boundary, one in about 200 passages of prose.
BLOCK_CHARS = 100_000
_LAST_SENTENCE_END = re.compile(r"(?s).*[.!?…。！？](?=\s)")
_LAST_SPACE = re.compile(r"(?s).*(?<=\S)(?=\s)")


@dataclass(frozen=True)
class Passage:
    ordinal: int  # 0-based order within the document
    start: int  # character offsets into Extracted.text
    end: int
    text: str  # == doc.text[start:end]
    page: int | None
    heading: str | None  # nearest heading at or before start
    # Its word pieces without special tokens, as tokenizing it alone gives them, when known
    # from its page's tokenization (every passage cut at white space): the encoder reuses
    # them (TokenIds). Not part of what a passage is: left out of comparisons.
    ids: array[int] | None = field(default=None, compare=False, repr=False)


class PassageTokenizer:
    """Wraps a HF fast tokenizer; counts word pieces and gives their character offsets."""

    def __init__(self, tokenizer: Any, max_tokens: int) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise TypeError("PassageTokenizer needs a fast (tokenizers-backed) tokenizer")
        self.n_special = int(tokenizer.num_special_tokens_to_add())
        if max_tokens - self.n_special < MIN_BUDGET:
            raise ValueError(f"max_tokens {max_tokens} leaves too few word pieces per passage")
        self.max_tokens = max_tokens
        # How the chunker hands on word-piece ids (Passage.ids): 2 bytes each where they fit.
        vocab = int(backend.get_vocab_size(with_added_tokens=True))
        self.id_typecode = "H" if vocab <= 1 << 16 else "I"
        # A private copy: the shared one carries the model's truncation and padding from
        # tokenizer.json (128 for all-MiniLM-L6-v2), which would silently cap every count.
        self._backend: Any = type(backend).from_str(backend.to_str())
        self._backend.no_truncation()
        self._backend.no_padding()
        # encode_batch_fast skips offset tracking; tokenizers before 0.20 lack it.
        self._encode_batch = getattr(self._backend, "encode_batch_fast", None) or (
            self._backend.encode_batch
        )
        # BERT's pre-tokenizer splits at white space and its normalizer works per character,
        # so a passage cut at white space tokenizes alone exactly as it did inside its page:
        # its word pieces can be counted from the page's, without encoding it again.
        self.splits_at_spaces = (
            type(self._backend.pre_tokenizer).__name__ in _SPACE_SPLITTING
            and type(self._backend.normalizer).__name__ in _PER_CHARACTER
        )
        # Each distinct word's pieces kept (engine/ingest/word_pieces.py), where that is exact.
        self._words = WordPieces.of(self._backend, self.encode) if self.splits_at_spaces else None

    @classmethod
    def from_model_dir(cls, path: Path, max_tokens: int | None = None) -> PassageTokenizer:
        # tokenizer.json alone (engine.embed.tokenizer_file): the engine never imports torch.
        tokenizer: Any = load_tokenizer_file(path)
        if tokenizer is None:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path))
        model_limit = read_model_info(path).max_tokens
        return cls(tokenizer, min(max_tokens or model_limit, model_limit))

    def pieces(self, text: str) -> tuple[list[int], list[int], list[int]]:
        """The word pieces' ids and where each starts and ends in `text`, as `encode`."""
        if self._words is not None:
            return self._words.encode(text)
        ids, spans = self.encode(text)
        return ids, [s for s, _ in spans], [e for _, e in spans]

    def pieces_at(self, text: str, base: int) -> tuple[Any, list[int], list[int]]:
        """pieces(), with the ids as a numpy array and the offsets moved on by `base`."""
        if self._words is not None:
            return self._words.encode_at(text, base)
        ids, starts, ends = self.pieces(text)
        return np.array(ids, dtype=np.int32), [base + s for s in starts], [base + e for e in ends]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece, without special tokens or truncation."""
        return self.encode(text)[1]

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The word pieces' ids and character spans, without special tokens or truncation."""
        try:
            encoding = self._backend.encode(text, add_special_tokens=False)
        except TypeError:  # a lone surrogate (from surrogateescape decoding) cannot be encoded
            encoding = self._backend.encode(_no_surrogates(text), add_special_tokens=False)
        return encoding.ids, encoding.offsets

    def count(self, text: str) -> int:
        """Word pieces including special tokens, as the model would see them untruncated."""
        try:
            encodings = self._encode_batch([text], add_special_tokens=True)
        except TypeError:
            encodings = self._encode_batch([_no_surrogates(text)], add_special_tokens=True)
        return len(encodings[0].ids)


def _no_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, so offsets stay the same."""
    return _SURROGATE.sub("\ufffd", text)


def passage_limit(tokenizer: PassageTokenizer, config: ChunkConfig) -> int:
    """Word pieces per passage, special tokens included: the config's, capped by the model's."""
    if config.max_tokens is None:
        return int(tokenizer.max_tokens)
    return min(int(tokenizer.max_tokens), config.max_tokens)


class ChunkingTimeoutError(ExtractError):
    """Cutting one file's text into passages took longer than its time limit allowed."""


def chunk_document(
    doc: Extracted,
    tokenizer: PassageTokenizer,
    config: ChunkConfig,
    deadline: float | None = None,
) -> list[Passage]:
    """Passages covering every non-blank character of `doc`, each within the token limit.

    Linear in the text's length: pages longer than BLOCK_CHARS are cut in blocks at a
    paragraph, sentence or word break, and each block is tokenized on its own (the tokenizer
    is superlinear on one huge string, and its offsets for a whole 30 MB line would take about
    a gigabyte of Python objects). ChunkingTimeoutError once time.monotonic() passes `deadline`.
    """
    limit = passage_limit(tokenizer, config)
    budget = limit - tokenizer.n_special
    if budget < MIN_BUDGET:
        raise ValueError(f"chunk max_tokens {limit} leaves too few word pieces per passage")
    # A quarter of the window at most, so every passage still moves the text on.
    overlap = max(0, min(config.overlap_tokens, budget // 4))

    text = doc.text
    # Pages are hard boundaries; text before the first page start belongs to page 1.
    cuts = sorted({p for p in doc.page_starts[1:] if 0 < p < len(text)})
    bounds = [0, *cuts, len(text)]
    spans: list[tuple[int, int]] = []
    ids: list[array[int] | None] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        for block_a, block_b in _blocks(text, a, b):
            if deadline is not None and time.monotonic() > deadline:
                raise ChunkingTimeoutError(
                    f"cutting the text into passages ran out of time at character {block_a:,}"
                    f" of {len(text):,}"
                )
            segment = _Segment(text, block_a, block_b, tokenizer, budget, overlap)
            found = segment.passages()
            spans.extend(found)
            ids.extend(segment.ids_of(a, b) for a, b in found)
    return passages_from_spans(doc, spans, ids)


def passages_from_spans(
    doc: Extracted, spans: Sequence[tuple[int, int]],
    ids: Sequence[array[int] | None] | None = None,
) -> list[Passage]:
    """The passages at `spans` of `doc`'s text, with their pages and headings (and the word
    pieces of each, where `ids` has them)."""
    text = doc.text
    return [
        Passage(i, s, e, text[s:e], doc.page_at(s), doc.heading_at(s),
                ids[i] if ids is not None else None)
        for i, (s, e) in enumerate(spans)
    ]


def _blocks(text: str, a: int, b: int) -> Iterator[tuple[int, int]]:
    """[a, b) in pieces of at most BLOCK_CHARS, each ending at the last blank line, else
    sentence end, else white space in its final quarter; else cut where it is full."""
    while b - a > BLOCK_CHARS:
        limit = a + BLOCK_CHARS
        floor = limit - BLOCK_CHARS // 4
        cut = text.rfind("\n\n", floor, limit)
        if cut < 0:
            sentence = _LAST_SENTENCE_END.match(text, floor, limit)
            cut = sentence.end() if sentence else -1
        if cut < 0:
            space = _LAST_SPACE.match(text, floor, limit)
            cut = space.end() if space else limit
        cut = max(cut, a + 1)
        yield a, cut
        a = cut
    yield a, b


class _Segment:
    """One page of text, tokenized once, and cut greedily into overlapping windows."""

    def __init__(
        self, text: str, a: int, b: int, tokenizer: PassageTokenizer, budget: int, overlap: int
    ) -> None:
        self.text = text
        self.tokenizer = tokenizer
        self.budget = budget
        self.overlap = overlap
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        self.a, self.b = a, b
        self.ids, self.starts, self.ends = tokenizer.pieces_at(text[a:b], a)
        self._sentences: list[int] | None = None  # where sentences start, once asked

    def ids_of(self, pos: int, end: int) -> array[int] | None:
        """The word pieces of [pos, end) alone, when they are this page's pieces between
        (its edges are where the page's tokenization split anyway); None otherwise."""
        if not (self.tokenizer.splits_at_spaces and self._at_breaks(pos, end)):
            return None
        first, last = bisect_left(self.starts, pos), bisect_left(self.starts, end)
        ids = array(self.tokenizer.id_typecode)
        ids.frombytes(self.ids[first:last].astype(ids.typecode).tobytes())
        return ids

    def passages(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        pos, prev_end = self.a, self.a
        while prev_end < self.b:
            end = self._fit(pos, prev_end)
            if out and end <= prev_end:
                # The overlap start led to a passage inside the last one; go on without overlap.
                pos = self._skip_space(prev_end)
                continue
            out.append((pos, end))
            prev_end = end
            pos = self._next_start(pos, end)
        return out

    def _fit(self, pos: int, prev_end: int) -> int:
        """End of the passage starting at pos: the best cut within budget, verified."""
        i = bisect_right(self.ends, pos)  # first word piece not wholly before pos
        if i + self.budget >= len(self.starts):
            end = self.b
            if pos == self.a:
                return end  # the whole page, exactly as tokenized above
        else:
            half, limit = self.starts[i + self.budget // 2], self.starts[i + self.budget]
            end = self._cut(pos, prev_end, half, limit)
        if self.tokenizer.splits_at_spaces and self._at_breaks(pos, end):
            inside = bisect_left(self.starts, end) - bisect_left(self.starts, pos)
            if inside <= self.budget:
                return end
        # Cutting can change how the edges tokenize: a passage opening inside a word reads
        # its first ## piece as a word start, and a 101-letter word is one [UNK] piece while
        # its first 99 letters are dozens. So each passage is re-counted alone and shrunk.
        while True:
            passage = self.text[pos:end]
            if self.tokenizer.count(passage) <= self.budget + self.tokenizer.n_special:
                return end
            if end - pos <= 1:
                log.warning("one character at %d is more word pieces than the budget", pos)
                return end
            spans = self.tokenizer.offsets(passage)
            limit = min(pos + spans[self.budget][0], end - 1)
            cut = self._cut(pos, prev_end, pos + spans[self.budget // 2][0], limit)
            end = min(cut, end - 1)  # strictly shorter each time, so the loop ends

    def _at_breaks(self, pos: int, end: int) -> bool:
        """Whether [pos, end) starts and ends where this page's tokenization split anyway."""
        text = self.text
        return (pos == self.a or text[pos - 1] in _BREAKS) and (
            end == self.b or text[end] in _BREAKS
        )

    def _cut(self, pos: int, prev_end: int, half: int, limit: int) -> int:
        """Passage end in (pos, limit]: the last paragraph or sentence break in the second
        half of the window, else the last word break, else mid-word at `limit`."""
        limit = max(limit, pos + 1)
        lo = max(half, prev_end + 1, pos + 1)
        paragraphs = self._matches(_PARAGRAPH, lo, limit, at_end=False)
        sentences = self._matches(_SENTENCE_END, lo, limit, at_end=True)
        cut = (
            # A passage should not end on a heading, cut off from the text it heads.
            next((c for c in reversed(paragraphs) if not self._is_heading(c)), 0)
            or (sentences[-1] if sentences else 0)
            # The last word end, even early in the window: a short passage beats a split word.
            or self._last_word_end(max(pos + 1, prev_end), limit)
            or limit
        )
        while cut > pos + 1 and self.text[cut - 1].isspace():
            cut -= 1
        return cut

    def _matches(self, pattern: re.Pattern[str], lo: int, hi: int, at_end: bool) -> list[int]:
        """Starts (or ends) of the matches in [lo, hi], in order."""
        # Bounded just past hi, or every window would scan to the end of the page.
        matches = pattern.finditer(self.text, lo, min(self.b, hi + 64))
        found = [m.end() if at_end else m.start() for m in matches]
        return [at for at in found if at <= hi]

    def _is_heading(self, at: int) -> bool:
        """Whether the paragraph that ends at `at` is one short line with no full stop."""
        end = at
        while end > self.a and self.text[end - 1].isspace():
            end -= 1
        start = max(self.text.rfind("\n", self.a, end) + 1, self.a)
        line = self.text[start:end]
        if not line or len(line) > 100 or line[-1] in _SENTENCE_PUNCT or line[-1] in _CLOSERS:
            return False
        above = max(self.text.rfind("\n", self.a, max(start - 1, self.a)), self.a - 1)
        return start == self.a or self.text[above + 1 : start].isspace()

    def _last_word_end(self, lo: int, hi: int) -> int:
        """The last offset in [lo, hi] where a word ends and whitespace begins, or 0."""
        m = _LAST_WORD_END.match(self.text, lo - 1, hi + 1)
        return m.end() if m else 0

    def _next_start(self, pos: int, end: int) -> int:
        """Start of the next passage: about `overlap` word pieces back from end, moved to the
        nearest sentence start, else word start, so a passage does not open mid-word."""
        j = bisect_left(self.starts, end)  # first word piece after the passage
        if self.overlap == 0 or j - self.overlap <= 0 or end >= self.b:
            return self._skip_space(end)
        target = self.starts[j - self.overlap]
        lo = max(self.starts[max(j - self.overlap - self.overlap // 2, 0)], pos + 1)
        hi = min(self.starts[j - max(self.overlap // 2, 1)], end - 1)
        if self._sentences is None:  # every sentence start is a word start (_WORD_START)
            self._sentences = sorted({
                m.end() for pattern in (_SENTENCE_START, _AFTER_CJK_STOP)
                for m in pattern.finditer(self.text, self.a, self.b)})
        start = _nearest_word_start(self.text, self._sentences, lo, hi, target)
        if not pos < start < end or self.text[start].isspace():
            return self._skip_space(end)
        return start

    def _skip_space(self, at: int) -> int:
        while at < self.b and self.text[at].isspace():
            at += 1
        return at


def _nearest_word_start(text: str, sentences: list[int], lo: int, hi: int, target: int) -> int:
    """The word start in [lo, hi] nearest `target`, at one of the (sorted) sentence starts if
    any lies there; of two as near, the earlier; `target` if there is none."""
    i, j = bisect_left(sentences, lo), bisect_right(sentences, hi)
    if i < j:
        k = bisect_left(sentences, target, i, j)
        before, after = sentences[k - 1] if k > i else None, sentences[k] if k < j else None
    else:
        found = _WORD_START.search(text, max(target, lo), hi + 1)
        after = found.start() if found else None
        found = _LAST_WORD_START.match(text, lo, min(target, hi + 1)) if target > lo else None
        before = found.end() if found else None
    if before is None:
        return target if after is None else after
    return before if after is None or target - before <= after - target else after
