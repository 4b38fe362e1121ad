"""What an explanation is: the spans and word pairs that carried a passage's score, as data.

Both attribution methods (the exact split in `explain`, integrated gradients in `gradients`)
build these, and search fuses them with the keyword side's spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Span = tuple[int, int, float]
Pair = tuple[int, int, int, int, float]


@dataclass(frozen=True)
class Explanation:
    method: str
    score: float  # the semantic score the parts add up to
    passage_spans: list[Span]  # [start, end, weight] over the extracted text
    query_spans: list[Span]  # [start, end, weight] over the query
    pairs: list[Pair]  # strongest first, at most MAX_PAIRS
    special_share: float  # passage side: weight on special tokens
    query_special_share: float
    pairs_special: float = 0.0  # pair weight involving a special token on either side
    pairs_rest: float = 0.0  # pair weight between words not listed in `pairs`
    keyword_spans: list[tuple[int, int]] = field(default_factory=list)
    semantic_share: float | None = None  # of the fused score, in hybrid mode
    keyword_share: float | None = None

    @property
    def reason(self) -> str:
        if self.keyword_share is None or self.semantic_share is None:
            return "matched by meaning" if not self.keyword_spans else "matched your words"
        if self.keyword_share >= 0.65:
            # Keyword search also reads a passage's neighbours (schema migration 4): the words
            # that ranked it may sit just before or after it, with nothing here to underline.
            return "matched your exact words" if self.keyword_spans else "matched your words nearby"
        if self.semantic_share >= 0.65:
            return "matched mostly by meaning"
        return "matched by meaning and your words"

    def to_json(self) -> dict[str, Any]:
        def r(x: float) -> float:
            return round(float(x), 6)

        return {
            "method": self.method,
            "score": r(self.score),
            "passage_spans": [[s, e, r(w)] for s, e, w in self.passage_spans],
            "query_spans": [[s, e, r(w)] for s, e, w in self.query_spans],
            "pairs": [[a, b, c, d, r(w)] for a, b, c, d, w in self.pairs],
            "special_share": r(self.special_share),
            "query_special_share": r(self.query_special_share),
            "pairs_special": r(self.pairs_special),
            "pairs_rest": r(self.pairs_rest),
            "keyword_spans": [[s, e] for s, e in self.keyword_spans],
            "semantic_share": None if self.semantic_share is None else r(self.semantic_share),
            "keyword_share": None if self.keyword_share is None else r(self.keyword_share),
            "reason": self.reason,
        }


def fold_words(
    text: str, offsets: Sequence[tuple[int, int]], special: Sequence[bool]
) -> tuple[list[tuple[int, int]], npt.NDArray[np.int64]]:
    """Group word pieces into words: (start, end) per word, and each token's word (-1 = special).

    A piece joins the previous word when it starts where that word ends and both sides of the
    join are letters or digits, so "##ing" joins its stem but "galaxy" and "." stay apart.
    """
    words: list[tuple[int, int]] = []
    owner = np.full(len(offsets), -1, dtype=np.int64)
    for t, ((start, end), is_special) in enumerate(zip(offsets, special, strict=True)):
        if is_special or end <= start:
            continue
        if words and words[-1][1] == start and _joins(text, start):
            words[-1] = (words[-1][0], end)
        elif words and words[-1][0] <= start < words[-1][1]:
            words[-1] = (words[-1][0], max(words[-1][1], end))  # overlapping pieces (CJK, bytes)
        else:
            words.append((start, end))
        owner[t] = len(words) - 1
    return words, owner


def _joins(text: str, at: int) -> bool:
    return 0 < at < len(text) and text[at - 1].isalnum() and text[at].isalnum()
