"""Combines keyword and semantic scores into one ranking that holds up where either side wins.

Why not reciprocal-rank fusion: RRF keeps only ranks, so when one side is decisive (an exact
name that BM25 scores far above everything else) its margin is thrown away and the other
side's noise pulls the right passage down; on an entity-lookup collection plain RRF fell from
BM25's nDCG@10 0.99 to 0.71. Bruch et al. (2022, arXiv 2210.11934) find a convex combination
of normalised scores better and less sensitive to its parameter. So:

    fused = w * norm(semantic) + (1 - w) * norm(keyword)

over the union of both sides' candidates, each scored exactly on both sides (the searcher
fills in the missing side's score, so nothing is guessed). Each side is min-max normalised
over that union, which keeps the margin by which a side prefers its best candidates: a
decisive BM25 top hit stays far ahead after normalisation. The weight is chosen by
bench/fusion_study.py across every shared collection, leave-one-collection-out.
"""

from __future__ import annotations

from collections.abc import Mapping

SEMANTIC_WEIGHT = 0.5


def min_max(scores: Mapping[int, float], ids: set[int]) -> dict[int, float]:
    """Scores scaled to [0, 1] over `ids`; an id the side did not score gets the side's floor."""
    if not scores:
        return dict.fromkeys(ids, 0.0)
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    if span <= 0:
        return {i: (1.0 if i in scores else 0.0) for i in ids}
    return {i: (scores[i] - low) / span if i in scores else 0.0 for i in ids}


def fuse_parts(
    semantic: Mapping[int, float],
    keyword: Mapping[int, float],
    weight: float = SEMANTIC_WEIGHT,
) -> dict[int, tuple[float, float]]:
    """(semantic part, keyword part) of each passage's fused score; the score is their sum.

    `keyword` holds BM25 (higher is better; absent = no match). The parts say how much of
    a result's place came from meaning and how much from the query's words.
    """
    ids = set(semantic) | set(keyword)
    # A passage that matches no query word has BM25 0, not "unknown": it is the true floor.
    kw = {i: keyword.get(i, 0.0) for i in ids} if keyword else {}
    sem_norm = min_max(semantic, ids)
    kw_norm = min_max(kw, ids)
    return {i: (weight * sem_norm[i], (1.0 - weight) * kw_norm[i]) for i in ids}


def fuse(
    semantic: Mapping[int, float],
    keyword: Mapping[int, float],
    weight: float = SEMANTIC_WEIGHT,
) -> dict[int, float]:
    """Fused score per passage id."""
    return {i: a + b for i, (a, b) in fuse_parts(semantic, keyword, weight).items()}
