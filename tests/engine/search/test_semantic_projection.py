"""An index made before projections opens with one: rebuilt from SQLite, nothing re-embedded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.config import IndexConfig
from engine.embed.hashing import HashingEncoder
from engine.search.semantic import PROJECTION_META, VECTORS_FILE_NAME, SemanticIndex
from engine.store import Store
from engine.store.database import ChunkRow
from engine.vectors.hnsw_file import read_hnsw_file

OLD = IndexConfig(reduced_dim=0)  # what every index was before
# A pool as large as the index, so the rescored answer is the exact one whatever the graph.
NEW = IndexConfig(m=16, ef_construction=100, ef=800, reduced_dim=16, reduce_from=500,
                  rescore=800)
WORDS = [f"w{i}" for i in range(300)]


class CountingEncoder(HashingEncoder):
    def __init__(self) -> None:
        super().__init__(dim=64)
        self.encoded = 0

    def encode_passages(self, texts):  # type: ignore[no-untyped-def]
        self.encoded += len(texts)
        return super().encode_passages(texts)


def _filled_store(tmp_path: Path, encoder: CountingEncoder) -> Store:
    rng = np.random.default_rng(5)
    store = Store.open_in(tmp_path)
    folder = store.pin_folder(str(tmp_path / "docs"))
    texts = [" ".join(rng.choice(WORDS, 12)) for _ in range(800)]
    for n in range(0, len(texts), 8):
        part = texts[n : n + 8]
        vectors = encoder.encode_passages(part)
        store.record_file(
            folder_id=folder, path=str(tmp_path / "docs" / f"{n}.txt"), size=1, mtime=1.0,
            hash=str(n), kind="text", state="indexed",
            chunks=[ChunkRow(i, 0, len(t), None, None, t) for i, t in enumerate(part)],
            extra_columns=[{"vector": np.asarray(v, np.float16).tobytes()} for v in vectors],
        )
    return store


def test_an_old_index_reopens_projected_and_finds_the_same(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    store = _filled_store(tmp_path, encoder)
    old = SemanticIndex(store, encoder, tmp_path, OLD)
    assert read_hnsw_file(tmp_path / VECTORS_FILE_NAME).dim == 64
    queries = ["w1 w2 w3", "w40 w41", "w299 w7 w8 w9"]
    before = [old.nearest(q, 10, None) for q in queries]
    old.close()
    encoded = encoder.encoded

    new = SemanticIndex(store, encoder, tmp_path, NEW)

    assert encoder.encoded == encoded  # rebuilt from the stored vectors
    assert read_hnsw_file(tmp_path / VECTORS_FILE_NAME).dim == 16
    assert store.get_meta(PROJECTION_META)
    after = [new.nearest(q, 10, None) for q in queries]
    for b, a in zip(before, after, strict=True):  # exact scores, not the projection's
        np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-3)
    new.close()
    reopened = SemanticIndex(store, encoder, tmp_path, NEW)  # loads, no rebuild
    assert [reopened.nearest(q, 10, None) for q in queries] == after
