"""Tests for engine.vectors.compact: a projected graph rescored exactly, and when it is rebuilt."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from engine.config import IndexConfig
from engine.vectors import VectorIndex
from engine.vectors.compact import open_compact
from engine.vectors.hnsw_file import read_hnsw_file
from engine.vectors.projection import Projection, fit_projection

Array = npt.NDArray[np.float32]

DIM = 64
N = 4_000
CONFIG = IndexConfig(m=16, ef_construction=100, ef=256, reduced_dim=24, reduce_from=1_000,
                     rescore=100)


def _anisotropic(rng: np.random.Generator, n: int) -> Array:
    # Sentence embeddings put most of their variance in a few directions; so do these.
    scale = 1.0 / np.sqrt(np.arange(1, DIM + 1))
    raw = rng.standard_normal((n, DIM)) * scale + 0.3
    return np.asarray(raw / np.linalg.norm(raw, axis=1, keepdims=True), dtype=np.float32)


class Stored:
    """What SQLite holds: float16 vectors by chunk id (sparse ids, as chunk ids are)."""

    def __init__(self, vectors: Array) -> None:
        self.ids = np.arange(len(vectors), dtype=np.int64) * 3 + 5
        self.rows = {int(i): v.astype(np.float16) for i, v in zip(self.ids, vectors, strict=True)}

    def fetch(self, ids: Sequence[int]) -> tuple[list[int], Array]:
        found = [int(i) for i in ids if int(i) in self.rows]
        if not found:
            return [], np.empty((0, DIM), dtype=np.float32)
        return found, np.stack([self.rows[i] for i in found]).astype(np.float32)

    def exact(self, queries: Array, k: int) -> npt.NDArray[np.int64]:
        ids = np.fromiter(self.rows, dtype=np.int64)
        matrix = np.stack([self.rows[int(i)] for i in ids]).astype(np.float32)
        return ids[np.argsort(-(queries @ matrix.T), axis=1)[:, :k]]


def _recall(found: npt.NDArray[np.int64], truth: npt.NDArray[np.int64]) -> float:
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


@pytest.fixture
def stored() -> Stored:
    return Stored(_anisotropic(np.random.default_rng(16), N))


def test_projected_graph_rescored_exactly_keeps_recall(stored: Stored, tmp_path: Path) -> None:
    queries = _anisotropic(np.random.default_rng(17), 100)

    index, report = open_compact(tmp_path / "v.hnsw", DIM, CONFIG, stored.ids, stored.fetch, None)

    assert report.refitted and report.projection is not None and report.repair.rebuilt
    assert read_hnsw_file(index.path).dim == 24  # the file holds the projected vectors
    found, scores = index.search(queries, 10)
    assert _recall(found, stored.exact(queries, 10)) >= 0.98
    expected = np.einsum("qd,qkd->qk", queries,
                         np.stack([stored.fetch(row.tolist())[1] for row in found]))
    np.testing.assert_allclose(scores, expected, atol=1e-5)  # exact, not the projection's
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_a_file_from_before_projections_is_rebuilt_from_the_stored_vectors(
    stored: Stored, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "v.hnsw"
    old = VectorIndex(path, DIM, IndexConfig(m=16, ef_construction=100, ef=256))
    old.add(stored.ids, stored.fetch(stored.ids.tolist())[1])
    old.save()

    with caplog.at_level(logging.INFO):
        index, report = open_compact(path, DIM, CONFIG, stored.ids, stored.fetch, None)

    assert report.repair.rebuilt and report.projection is not None
    assert read_hnsw_file(path).dim == 24 and len(index) == N
    # The planned rebuild of a first projection is said, but as no warning (no damage).
    assert any("new projection" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_reopening_with_its_projection_loads_the_file(stored: Stored, tmp_path: Path) -> None:
    path = tmp_path / "v.hnsw"
    _, first = open_compact(path, DIM, CONFIG, stored.ids, stored.fetch, None)
    assert first.projection is not None
    saved = Projection.from_text(first.projection.to_text(), DIM)

    index, again = open_compact(path, DIM, CONFIG, stored.ids, stored.fetch, saved)

    assert not again.repair.rebuilt and not again.refitted and len(index) == N


def test_a_file_made_for_another_projection_is_rebuilt(stored: Stored, tmp_path: Path) -> None:
    path = tmp_path / "v.hnsw"
    open_compact(path, DIM, CONFIG, stored.ids, stored.fetch, None)
    rng = np.random.default_rng(3)
    other = fit_projection(_anisotropic(rng, 500) * rng.permutation(DIM), 24, N)

    index, report = open_compact(path, DIM, CONFIG, stored.ids, stored.fetch, other)

    assert report.repair.rebuilt and not report.refitted and index.projection is other


def test_small_indexes_keep_full_vectors_and_grown_ones_are_refitted(
    stored: Stored, tmp_path: Path
) -> None:
    path = tmp_path / "v.hnsw"
    few = stored.ids[:500]
    small, report = open_compact(path, DIM, CONFIG, few, stored.fetch, None)
    assert report.projection is None and read_hnsw_file(path).dim == DIM
    small.add(stored.ids[500:], stored.fetch(stored.ids[500:].tolist())[1])
    small.save()

    grown, report = open_compact(path, DIM, CONFIG, stored.ids, stored.fetch, None)
    assert report.refitted and report.projection is not None and report.projection.fitted_on == N
    fitted = report.projection
    _, report = open_compact(path, DIM, CONFIG, stored.ids[: N // 2], stored.fetch, fitted)
    assert report.projection is fitted and not report.refitted  # shrinking keeps it
    assert len(grown) == N


def test_candidates_gone_from_the_store_are_left_out(stored: Stored, tmp_path: Path) -> None:
    index, _ = open_compact(tmp_path / "v.hnsw", DIM, CONFIG, stored.ids, stored.fetch, None)
    query = stored.fetch([int(stored.ids[7])])[1]
    del stored.rows[int(stored.ids[7])]  # removed from SQLite, the graph not told yet

    found, _ = index.search(query, 10)

    assert int(stored.ids[7]) not in found[0].tolist() and found.shape == (1, 10)


def test_the_rescored_pool_grows_with_the_index(stored: Stored, tmp_path: Path) -> None:
    config = dataclasses.replace(CONFIG, rescore_per_million=50_000)  # 200 of 4,000 passages
    index, _ = open_compact(tmp_path / "v.hnsw", DIM, config, stored.ids, stored.fetch, None)
    queries = _anisotropic(np.random.default_rng(18), 20)
    asked: list[int] = []

    def counting(ids: Sequence[int]) -> tuple[list[int], Array]:
        asked.append(len(ids))
        return stored.fetch(ids)

    found, _ = index.search(queries, 10, None, counting)

    # Deeper than ef 256 at twice the pool, the graph's best 200 are the ones rescored.
    assert index.pool(10) == 200 and asked == [200] * len(queries)
    assert index.pool(100) == 300  # still at least 3 candidates per result wanted
    assert index.pool(10, among=3_000) == 150  # a filter's 3,000 passages: a pool of 150
    assert _recall(found, stored.exact(queries, 10)) >= 0.98
    index.config = CONFIG  # 800 a million: under `rescore` at this size
    assert index.pool(10) == CONFIG.rescore


def test_added_vectors_are_projected_and_found(stored: Stored, tmp_path: Path) -> None:
    index, _ = open_compact(tmp_path / "v.hnsw", DIM, CONFIG, stored.ids[:2_000], stored.fetch,
                            None)
    new = stored.ids[2_000:2_100]
    index.add(new, stored.fetch(new.tolist())[1])

    found, scores = index.search(stored.fetch(new[:5].tolist())[1], 1)

    np.testing.assert_array_equal(found[:, 0], new[:5])
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-3)


def test_projection_text_round_trips_and_rejects_another_dimension() -> None:
    projection = fit_projection(_anisotropic(np.random.default_rng(4), 300), 8, 300)

    again = Projection.from_text(projection.to_text(), DIM)

    assert again is not None and again.fitted_on == 300
    np.testing.assert_array_equal(again.components, projection.components)
    assert Projection.from_text(projection.to_text(), 32) is None
    assert Projection.from_text("{not json", DIM) is None
