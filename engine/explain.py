"""Says exactly why a passage matched: which words on each side carried the cosine score.

For a mean-pooled encoder with normalised output the score splits exactly. With passage token
states h_i (n of them, mean m) and query token states g_j (n_q of them, mean m_q):

    s = q̂ · m / ‖m‖                    (q̂ = m_q / ‖m_q‖)
    c_i  = q̂ · h_i / (n ‖m‖)            Σ_i c_i = s      (passage side)
    d_j  = p̂ · g_j / (n_q ‖m_q‖)        Σ_j d_j = s      (query side, p̂ = m / ‖m‖)
    P_ji = g_j · h_i / (n_q n ‖m_q‖ ‖m‖)  Σ_ji P_ji = s   (pairs; rows sum to d_j, columns to c_i)

all from one forward pass per side. Word pieces fold into words through the tokenizer's offset
mapping; the share on special tokens ([CLS], [SEP], prefixes) is reported apart, never painted.

For other poolings (CLS) there is no exact split; the fallback is integrated gradients on the
input embeddings (IG_STEPS steps, zero baseline), whose residual f(x) - Σ attributions - which
includes f(baseline) - is reported as the special share, so the parts still add up to s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

IG_STEPS = 20
MAX_PAIRS = 64

Span = tuple[int, int, float]
Pair = tuple[int, int, int, int, float]


class TokenStateSource(Protocol):
    pooling: str

    def token_states(self, texts: Sequence[str], kind: str = "passage") -> list[Any]: ...


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


def _fold(owner: npt.NDArray[np.int64], n_words: int, values: Any) -> Any:
    """Sum `values` (one row per token) over each word's pieces; special tokens fall out.

    A word's pieces are consecutive tokens, so this is one reduceat over the text tokens.
    """
    tokens = np.flatnonzero(owner >= 0)
    if n_words == 0:
        return np.zeros((0, *np.shape(values)[1:]), dtype=np.float64)
    owners = owner[tokens]
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    return np.add.reduceat(values[tokens], starts, axis=0)


def exact_mean_pooled(
    query: str,
    query_states: Any,
    passage_text: str,
    passage_states: Any,
    passage_start: int = 0,
    max_pairs: int = MAX_PAIRS,
) -> Explanation:
    """The exact decomposition for one (query, passage) pair from their token states."""
    g = np.asarray(query_states.hidden, dtype=np.float64)
    h = np.asarray(passage_states.hidden, dtype=np.float64)
    m_q, m_p = g.mean(axis=0), h.mean(axis=0)
    nq_norm, np_norm = np.linalg.norm(m_q), np.linalg.norm(m_p)
    q_hat, p_hat = m_q / nq_norm, m_p / np_norm
    score = float(q_hat @ p_hat)
    c = h @ q_hat / (len(h) * np_norm)  # passage tokens
    d = g @ p_hat / (len(g) * nq_norm)  # query tokens

    p_words, p_owner = fold_words(passage_text, passage_states.offsets, passage_states.special_mask)
    q_words, q_owner = fold_words(query, query_states.offsets, query_states.special_mask)
    c_words, d_words = _fold(p_owner, len(p_words), c), _fold(q_owner, len(q_words), d)

    # The word × word pair matrix, folded before the product (it is linear in the states):
    # P_ji = g_j · h_i / (n_q n ‖m_q‖ ‖m‖). The mass on special tokens is what the words lack.
    scale = len(g) * len(h) * nq_norm * np_norm
    words_matrix = _fold(q_owner, len(q_words), g) @ _fold(p_owner, len(p_words), h).T / scale
    pairs_total = float(g.sum(axis=0) @ h.sum(axis=0)) / scale
    pairs_special = float(pairs_total - np.sum(words_matrix))
    flat = words_matrix.ravel()
    top = min(max_pairs, flat.size)
    order = np.argpartition(-np.abs(flat), top - 1)[:top] if top else np.empty(0, np.int64)
    pairs: list[Pair] = []
    for idx in order:
        qi, pi = divmod(int(idx), len(p_words))
        pairs.append((q_words[qi][0], q_words[qi][1], passage_start + p_words[pi][0],
                      passage_start + p_words[pi][1], float(flat[idx])))
    pairs.sort(key=lambda p: -p[4])
    listed = float(sum(p[4] for p in pairs))

    return Explanation(
        method="exact-mean-pooling",
        score=score,
        passage_spans=[(passage_start + s, passage_start + e, float(w))
                       for (s, e), w in zip(p_words, c_words, strict=True)],
        query_spans=[(s, e, float(w)) for (s, e), w in zip(q_words, d_words, strict=True)],
        pairs=pairs,
        special_share=float(c[p_owner < 0].sum()),
        query_special_share=float(d[q_owner < 0].sum()),
        pairs_special=pairs_special,
        pairs_rest=float(flat.sum()) - listed,
    )


def explain_passages(
    encoder: Any,
    query: str,
    passages: Sequence[tuple[str, int]],
) -> list[Explanation]:
    """Explanations for (passage text, passage start) pairs: one batched forward pass."""
    if not passages:
        return []
    if getattr(encoder, "pooling", "mean") != "mean":
        from engine.explain_gradients import integrated_gradients

        return integrated_gradients(encoder, query, passages, IG_STEPS)
    query_states = encoder.token_states([query], kind="query")[0]
    states = encoder.token_states([text for text, _ in passages], kind="passage")
    return [
        exact_mean_pooled(query, query_states, text, st, start)
        for (text, start), st in zip(passages, states, strict=True)
    ]
