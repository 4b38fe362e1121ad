"""Combines keyword and semantic scores into one ranking that holds up where either side wins.

Why not reciprocal-rank fusion: RRF keeps only ranks, so when one side is decisive (an exact
name that BM25 scores far above everything else) its margin is thrown away and the other
side's noise pulls the right passage down. bench/fusion_study.py reproduces this: on
known-item queries over SciFact, BM25 reaches nDCG@10 0.993 and RRF (k=60) 0.908. Bruch et
al. (2022, arXiv 2210.11934) find a convex combination of normalised scores better and less
sensitive to its parameter. So:

    fused = w * z(semantic) + (1 - w) * z(keyword)

over the union of both sides' candidates, each scored on both sides: cosines exactly from the
stored vectors, BM25 exactly within the top 1,000 keyword matches and, past those, bounded by
the 1,000th score (the searcher fills these in, so no side's score is simply missing).
z-scores keep the margin by which a side prefers its best candidates: a decisive BM25 hit
many deviations above the rest stays ahead, while a flat side (every cosine alike) barely
moves the order. w = 0.5 is the weight that is never more than 0.01 below the better side on
any shared collection or on the known-item set (worst: -0.002), and is above both sides on
all four shared collections (128-piece passages, keyword side with neighbours); the study
prints the whole grid and the leave-one-collection-out choice.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping

SEMANTIC_WEIGHT = 0.5


def z_scores(
    scores: Mapping[int, float], ids: set[int], reference: set[int] | None = None
) -> dict[int, float]:
    """Standard scores of `ids`, by the mean and spread over `reference` (a subset; default
    all of `ids`). An id the side did not score counts as the side's floor."""
    if not scores:
        return dict.fromkeys(ids, 0.0)
    floor = min(scores.values())
    values = {i: scores.get(i, floor) for i in ids}
    basis = list(values.values()) if reference is None else [values[i] for i in reference]
    mean = statistics.fmean(basis)
    spread = statistics.pstdev(basis)
    if spread <= 0:
        return dict.fromkeys(ids, 0.0)
    return {i: (v - mean) / spread for i, v in values.items()}


def fuse_parts(
    semantic: Mapping[int, float],
    keyword: Mapping[int, float],
    weight: float = SEMANTIC_WEIGHT,
    reference: set[int] | None = None,
) -> dict[int, tuple[float, float]]:
    """(semantic part, keyword part) of each passage's fused score; the score is their sum.

    `keyword` holds BM25 (higher is better; absent = no match). Each part is measured from
    the weakest candidate on its side, so both are >= 0 and say how far meaning and the
    query's words each lifted the passage; shifting by a per-side constant keeps the order.
    `reference` (default: every candidate) is the set whose mean and spread normalise both
    sides: the searcher passes each side's top `search.candidates`, so asking for more
    results (a deeper pool) does not reorder the first ones.
    """
    ids = set(semantic) | set(keyword)
    if not ids:
        return {}
    # A passage that matches no query word has BM25 0, not "unknown": it is the true floor.
    kw = {i: keyword.get(i, 0.0) for i in ids} if keyword else {}
    z_sem = z_scores(semantic, ids, reference)
    z_kw = z_scores(kw, ids, reference)
    low_sem, low_kw = min(z_sem.values()), min(z_kw.values())
    return {
        i: (weight * (z_sem[i] - low_sem), (1.0 - weight) * (z_kw[i] - low_kw)) for i in ids
    }


def fuse(
    semantic: Mapping[int, float],
    keyword: Mapping[int, float],
    weight: float = SEMANTIC_WEIGHT,
) -> dict[int, float]:
    """Fused score per passage id."""
    return {i: a + b for i, (a, b) in fuse_parts(semantic, keyword, weight).items()}
