"""Fusion: the first results do not depend on how many results were asked for; and how a
result says which side matched it."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import replace

import pytest

from engine.search.explanation import Explanation
from engine.search.fusion import fuse_parts, z_scores
from engine.search.searcher import Searcher
from engine.store import ChunkRow, Store

WORDS = [f"w{i}" for i in range(40)]


class ScoredSemantic:
    """A semantic side with fixed, query-dependent cosines: the test is about fusion."""

    confidence_threshold = 0.0

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = list(ids)

    def _cosine(self, query: str, cid: int) -> float:
        digest = hashlib.blake2b(f"{query}/{cid}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") / 2**32 * 0.8 - 0.1

    def nearest(self, query: str, k: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        scored = sorted(((c, self._cosine(query, c)) for c in self.ids), key=lambda x: -x[1])
        return scored[:k]

    def similarities(self, query: str, chunk_ids: Sequence[int]) -> dict[int, float]:
        return {c: self._cosine(query, c) for c in chunk_ids}

    def explain(self, query: str, passages: Sequence[tuple[str, int]]) -> list[Explanation]:
        raise AssertionError("not asked for")


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    store = Store.open_in(tmp_path_factory.mktemp("fusion"))
    folder = store.pin_folder("/docs")
    rng = random.Random(3)
    ids = []
    for n in range(600):
        text = " ".join(rng.choices(WORDS, k=rng.randint(5, 30)))
        _, added = store.record_file(
            folder_id=folder, path=f"/docs/{n}.txt", size=1, mtime=1.0, hash=str(n),
            kind="text", state="indexed", chunks=[ChunkRow(0, 0, len(text), None, None, text)],
        )
        ids += added
    return Searcher(store, ScoredSemantic(ids), candidates=100)


@pytest.mark.parametrize("query", ["w1 w2", "w3", "w5 w7 w11", "w0 w39 w20 w21"])
def test_first_results_are_the_same_for_any_k(searcher: Searcher, query: str) -> None:
    def paths(k: int) -> list[str]:
        return [r.best.path for r in searcher.search(query, "hybrid", k=k).results]

    first = paths(10)
    assert len(first) == 10
    for k in (50, 100, 200):
        assert paths(k)[:10] == first


def test_z_scores_use_the_reference_spread() -> None:
    scores = {1: 3.0, 2: 1.0, 3: -10.0}
    z = z_scores(scores, {1, 2, 3}, reference={1, 2})
    assert z[1] == pytest.approx(1.0) and z[2] == pytest.approx(-1.0)
    assert z[3] == pytest.approx(-12.0)
    assert z_scores(scores, {1, 2, 3}) != z  # without a reference every id counts


def test_parts_are_never_negative_with_a_reference() -> None:
    parts = fuse_parts({1: 0.9, 2: 0.5, 3: 0.1}, {1: 2.0, 4: 7.0}, reference={1, 2, 4})
    assert set(parts) == {1, 2, 3, 4}
    assert all(a >= 0 and b >= 0 for a, b in parts.values())


def test_reason_says_when_the_matching_words_are_only_nearby() -> None:
    from engine.search.explanation import Explanation

    base = Explanation("exact-mean-pooling", 0.5, [], [], [], 0.0, 0.0,
                       semantic_share=0.2, keyword_share=0.8)
    assert base.reason == "matched your words nearby"  # ranked by a neighbour's words
    assert replace(base, keyword_spans=[(0, 4)]).reason == "matched your exact words"
    assert replace(base, semantic_share=0.8, keyword_share=0.2).reason == (
        "matched mostly by meaning")
