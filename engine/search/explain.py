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
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.search.explanation import Explanation, Pair, fold_words

IG_STEPS = 20
MAX_PAIRS = 64



class TokenStateSource(Protocol):
    pooling: str

    def token_states(self, texts: Sequence[str], kind: str = "passage") -> list[Any]: ...




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
        from engine.search.gradients import integrated_gradients

        return integrated_gradients(encoder, query, passages, IG_STEPS)
    query_states = encoder.token_states([query], kind="query")[0]
    states = encoder.token_states([text for text, _ in passages], kind="passage")
    return [
        exact_mean_pooled(query, query_states, text, st, start)
        for (text, start), st in zip(passages, states, strict=True)
    ]
