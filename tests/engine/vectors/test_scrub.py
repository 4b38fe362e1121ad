"""Deleted vectors are overwritten in memory and never written to the saved HNSW file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.config import IndexConfig
from engine.vectors import VectorIndex, open_or_rebuild, prune_file
from engine.vectors.hnsw_file import read_hnsw_file
from tests.helpers.traces import hnsw_vectors, traces_in

DIM = 32
CONFIG = IndexConfig(m=8, ef_construction=64, ef=128)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def index(tmp_path: Path) -> VectorIndex:
    built = VectorIndex(tmp_path / "v.hnsw", DIM, CONFIG)
    built.add(np.arange(400), _unit(np.random.default_rng(7), 400))
    return built


def test_deleted_vectors_never_reach_the_saved_file(index: VectorIndex, tmp_path: Path) -> None:
    gone = np.arange(0, 400, 3)
    kept = np.arange(1, 400, 3)
    deleted_bytes = [v.tobytes() for v in index.get_vectors(gone)]
    kept_bytes = [v.tobytes() for v in index.get_vectors(kept)]
    index.delete(gone)
    # hnswlib on its own keeps them: its save writes every deleted slot's vector.
    raw = tmp_path / "raw.hnsw"
    index._index.save_index(str(raw))
    assert len(traces_in(raw, deleted_bytes).get(str(raw), [])) == len(gone)

    index.save()
    saved = index.path
    assert traces_in(saved, deleted_bytes) == {}
    assert len(traces_in(saved, kept_bytes)[str(saved)]) == len(kept)
    slots = hnsw_vectors(saved)
    assert all(slots[int(label)] == (bytes(4 * DIM), True) for label in gone)
    assert read_hnsw_file(saved).unscrubbed == 0


def test_scrubbing_overwrites_the_vectors_in_memory(index: VectorIndex) -> None:
    gone = list(range(50))
    deleted_bytes = [v.tobytes() for v in index.get_vectors(gone)]
    index.delete(gone)
    assert index.needs_scrub
    memory = np.asarray(index._index.__getstate__()[0]["data_level0"]).tobytes()
    assert sum(b in memory for b in deleted_bytes) == len(gone)
    assert index.scrub() == len(gone)
    memory = np.asarray(index._index.__getstate__()[0]["data_level0"]).tobytes()
    assert not any(b in memory for b in deleted_bytes)
    assert not index.needs_scrub and index.scrub() == 0


def test_search_keeps_its_recall_after_half_the_index_is_scrubbed(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    data = _unit(rng, 2000)
    labels = np.arange(2000) * 5 + 3
    index = VectorIndex(tmp_path / "v.hnsw", DIM, IndexConfig())
    index.add(labels, data)
    index.delete(labels[::2])
    index.save()
    live, vectors = labels[1::2], data[1::2]
    queries = _unit(rng, 100)
    for opened in (index, VectorIndex.load(tmp_path / "v.hnsw", DIM, IndexConfig())):
        found, _ = opened.search(queries, 10)
        exact = live[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
        recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
        assert recall >= 0.98
    slots = index.slot_count
    index.add(np.arange(500) + 100_000, _unit(rng, 500))  # new labels take the zeroed slots
    assert index.slot_count == slots and len(index) == 1500


def test_a_file_saved_with_deleted_vectors_is_saved_again_without(
    index: VectorIndex, tmp_path: Path
) -> None:
    gone = list(range(0, 400, 2))
    deleted_bytes = [v.tobytes() for v in index.get_vectors(gone)]
    index.delete(gone)
    index._index.save_index(str(index.path))  # as Dowse saved before it scrubbed
    assert read_hnsw_file(index.path).unscrubbed == len(gone)
    reopened, report = open_or_rebuild(
        index.path, DIM, CONFIG, range(1, 400, 2), lambda ids: np.zeros((len(ids), DIM))
    )
    assert not report.rebuilt and len(reopened) == 200
    assert traces_in(index.path, deleted_bytes) == {}


def test_prune_file_drops_what_sqlite_no_longer_has(index: VectorIndex) -> None:
    index.save()
    gone_bytes = [v.tobytes() for v in index.get_vectors(range(100))]
    assert prune_file(index.path, DIM, CONFIG, range(100, 400)) == 100
    assert traces_in(index.path, gone_bytes) == {}
    assert VectorIndex.load(index.path, DIM, CONFIG).labels().tolist() == list(range(100, 400))
    assert prune_file(index.path, DIM, CONFIG, range(100, 400)) == 0
    index.path.write_bytes(b"not an index")
    assert prune_file(index.path, DIM, CONFIG, []) == 0 and not index.path.exists()
