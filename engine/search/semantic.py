"""The semantic side of the index: embeds passages, keeps the HNSW file in step with SQLite."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import IndexConfig
from engine.embed.base import Encoder
from engine.search.explain import explain_passages
from engine.search.explanation import Explanation
from engine.store import Store
from engine.store.vector_blobs import decode_vectors, encode_vectors
from engine.vectors import VECTORS_FILE_NAME as VECTORS_FILE_NAME  # where it always was
from engine.vectors.compact import open_compact
from engine.vectors.projection import Projection

log = logging.getLogger(__name__)

# Below this many allowed passages a filtered search is exact brute force over their stored
# vectors; above it hnswlib's filtered search is used. Both keep full recall.
EXACT_FILTER_LIMIT = 20_000
# Best-passage cosine under which the engine says "no confident match", per model. Calibrated
# on the shared collections (128-piece passages, bench/fusion_study.py): among queries whose
# top-1 semantic passage is relevant, the 10th percentile of that passage's cosine was 0.604
# (cisi), 0.615 (cranfield), 0.453 (nfcorpus) and 0.541 (scifact); the lowest is the
# threshold, so nine in ten such answers stay confident.
CONFIDENCE_THRESHOLDS = {"all-MiniLM-L6-v2": 0.45}
DEFAULT_CONFIDENCE = 0.5


# The meta key holding the PCA projection the HNSW graph is built on (engine/vectors/compact.py).
PROJECTION_META = "vector_projection"


class ModelMismatchError(RuntimeError):
    """The index on disk was built by another model or with another vector dimension."""


def to_blob(vector: np.ndarray) -> bytes:
    """One vector as `chunks.vector` keeps it (engine/store/vector_blobs.py)."""
    return encode_vectors(np.asarray(vector)[None])[0]


def from_blobs(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Unit float32 vectors from stored blobs, in order."""
    return decode_vectors(blobs, dim)


class SemanticIndex:
    """Implements the indexer's PassageVectors and the searcher's SemanticSide."""

    def __init__(
        self, store: Store, encoder: Encoder, data_dir: Path, config: IndexConfig
    ) -> None:
        self.store = store
        self.encoder = encoder
        self.dim = encoder.dim
        self.confidence_threshold = CONFIDENCE_THRESHOLDS.get(encoder.name, DEFAULT_CONFIDENCE)
        self._check_model()
        self._dirty = False
        self.embedded_passages = 0  # since this process opened the index
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_lock = threading.Lock()
        self._path, self._config = data_dir / VECTORS_FILE_NAME, config
        self._open()

    def _open(self) -> None:
        """Load (or rebuild) the graph for the projection the policy wants now."""
        expected = self._labels_in_store()
        stored = self.store.get_meta(PROJECTION_META)
        self.index, opened = open_compact(
            self._path, self.dim, self._config, expected, self._stored,
            Projection.from_text(stored, self.dim) if stored else None,
        )
        report = opened.repair
        if opened.refitted and opened.projection is not None:
            # After the graph's save: a crash before this leaves the old projection, and the
            # next open sees that the file does not match it and rebuilds.
            with self.store.transaction():
                self.store.set_meta(PROJECTION_META, opened.projection.to_text())
        if report.rebuilt or report.added or report.removed:
            log.info("vector index repaired from SQLite: %s", report)

    # -- consistency ------------------------------------------------------------------------

    def _check_model(self) -> None:
        name, dim = self.store.get_meta("model_name"), self.store.get_meta("model_dim")
        if name is None:
            with self.store.transaction():
                self.store.set_meta("model_name", self.encoder.name)
                self.store.set_meta("model_dim", str(self.dim))
            return
        if name != self.encoder.name or dim != str(self.dim):
            raise ModelMismatchError(
                f"this index was built with the model {name} ({dim} dimensions), but the "
                f"configured model is {self.encoder.name} ({self.dim} dimensions). Re-index "
                "with `dowse index --reindex PATH…` to embed everything with the new model, "
                "or set embed.model_path back."
            )

    def _labels_in_store(self) -> set[int]:
        rows = self.store.conn.execute("SELECT id FROM chunks WHERE vector IS NOT NULL")
        return {int(r[0]) for r in rows}

    def drop_unstored(self) -> int:
        """Delete labels whose passage is gone from SQLite: a removal committed while the
        index loaded, before its vectors could be told. Index labels are read before the
        store's, so a passage added meanwhile (stored first, then indexed) is never lost."""
        present = self.index.labels()
        stale = np.setdiff1d(present, np.fromiter(self._labels_in_store(), np.int64))
        if len(stale):
            self.apply(stale.tolist(), [], np.empty((0, 0), np.float32))
        return len(stale)

    def _stored(
        self, chunk_ids: Iterable[int], store: Store | None = None
    ) -> tuple[list[int], np.ndarray]:
        """The ids among `chunk_ids` that have a stored vector, in order, and those vectors."""
        conn = (store or self.store).conn
        ids = list(chunk_ids)
        blobs: dict[int, bytes] = {}
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            marks = ",".join("?" * len(part))
            # Rows are (int, bytes) already; no per-row conversion (a search's rescoring reads
            # 800 of them at 1M passages, bench/rescore_depth.py).
            blobs.update(conn.execute(
                f"SELECT id, vector FROM chunks WHERE id IN ({marks}) AND vector IS NOT NULL",
                part,
            ))
        found = [i for i in ids if i in blobs]
        return found, from_blobs([blobs[i] for i in found], self.dim)

    # -- indexing (PassageVectors) ----------------------------------------------------------

    def encodes_side_by_side(self) -> bool:
        """Whether the meaning phase's pinned workers may call the encoder at once."""
        return bool(getattr(self.encoder, "side_by_side", False))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded_passages += len(texts)
        return self.encoder.encode_passages(texts)

    def embed_passages_with_ids(
        self, texts: Sequence[str], ids: Sequence[Sequence[int] | None]
    ) -> np.ndarray:
        """embed_passages(), from the word pieces the chunker found where `ids` has them
        (engine/ingest/token_ids.py) and an encoder that takes them; the rest by their text."""
        by_ids = getattr(self.encoder, "encode_passage_ids", None)
        known = [i for i, p in enumerate(ids) if p is not None]
        if by_ids is None or not known:
            return self.embed_passages(texts)
        self.embedded_passages += len(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[known] = by_ids([ids[i] for i in known])
        rest = [i for i, p in enumerate(ids) if p is None]
        if rest:
            out[rest] = self.encoder.encode_passages([texts[i] for i in rest])
        return out

    def vector_column(self, vectors: np.ndarray) -> list[dict[str, Any]]:
        return [{"vector": blob} for blob in encode_vectors(vectors)]

    def blob_vectors(self, blobs: Sequence[bytes]) -> np.ndarray:
        return from_blobs(blobs, self.dim)

    def apply(self, removed: Sequence[int], added: Sequence[int], vectors: np.ndarray) -> None:
        if removed:
            self.index.delete(np.asarray(removed, dtype=np.int64))
            self._dirty = True
        if added:
            self.index.add(np.asarray(added, dtype=np.int64), vectors)
            self._dirty = True

    def checkpoint(self) -> None:
        if self._dirty:
            self.index.save()
            self._dirty = False
        if self.index.projection is None and len(self.index) >= self._config.reduce_from > 0:
            # A first index grew past the size where the graph holds projected vectors: fit
            # the projection and rebuild the graph now, once, rather than at the next start.
            log.info("the vector index reached %d passages: projecting it", len(self.index))
            self._open()

    # -- searching (SemanticSide) -----------------------------------------------------------

    def query_vector(self, query: str) -> np.ndarray:
        with self._query_lock:
            cached = self._query_cache.get(query)
        if cached is None:
            cached = self.encoder.encode_queries([query])[0]
            with self._query_lock:
                self._query_cache[query] = cached
                if len(self._query_cache) > 64:
                    self._query_cache.popitem(last=False)
        return cached

    def reader(self, store: Store) -> SemanticReader:
        """The search side reading stored vectors through `store`: one per thread."""
        return SemanticReader(self, store)

    def nearest(
        self, query: str, k: int, allowed: set[int] | None, store: Store | None = None
    ) -> list[tuple[int, float]]:
        vector = self.query_vector(query)
        if allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
            ids, vectors = self._stored(sorted(allowed), store)
            sims = vectors @ vector if ids else np.empty(0)
            order = np.argsort(-sims)[:k]
            return [(ids[i], float(sims[i])) for i in order]
        predicate: Callable[[int], bool] | None = None
        if allowed is not None:
            allowed_ids = allowed
            predicate = allowed_ids.__contains__
        # A folder's passages are fewer than the index's, and as sparse in the graph's space:
        # the rescored pool follows their count (CompactIndex.pool).
        labels, scores = self.index.search(vector, k, predicate, self._fetcher(store),
                                           among=None if allowed is None else len(allowed))
        pairs = zip(labels[0], scores[0], strict=True)
        return [(int(label), float(score)) for label, score in pairs]

    def _fetcher(self, store: Store | None) -> Callable[[Sequence[int]], tuple[list[int],
                                                                                 np.ndarray]]:
        """Reads the exact vectors of a search's candidates through the caller's store."""
        return lambda ids: self._stored(ids, store)

    def similarities(
        self, query: str, chunk_ids: Sequence[int], store: Store | None = None
    ) -> dict[int, float]:
        ids, vectors = self._stored(dict.fromkeys(chunk_ids), store)
        if not ids:
            return {}
        sims = vectors @ self.query_vector(query)
        return {cid: float(s) for cid, s in zip(ids, sims, strict=True)}

    def explain(self, query: str, passages: Sequence[tuple[str, int]]) -> list[Explanation]:
        remote = getattr(self.encoder, "explain", None)  # a model in another process
        if remote is not None:
            return remote(query, passages)  # type: ignore[no-any-return]
        return explain_passages(self.encoder, query, passages)

    def neighbours(
        self, chunk_id: int, k: int, excluded: set[int], store: Store | None = None
    ) -> list[tuple[int, float]]:
        """Passages nearest to one passage's stored vector (nothing is embedded), none of
        those in `excluded`; empty when that passage has no vector yet."""
        ids, vectors = self._stored([chunk_id], store)
        if not ids:
            return []
        labels, scores = self.index.search(
            vectors[0], k, lambda label: label not in excluded, self._fetcher(store)
        )
        return [(int(label), float(score)) for label, score in zip(labels[0], scores[0],
                                                                    strict=True)]

    def close(self) -> None:
        try:
            self.checkpoint()
        finally:
            stop = getattr(self.encoder, "close", None)  # an encoder's child process
            if stop is not None:
                stop()


class SemanticReader:
    """SemanticSide for a search thread: the shared encoder and index, this thread's store."""

    def __init__(self, owner: SemanticIndex, store: Store) -> None:
        self.owner = owner
        self.store = store
        self.confidence_threshold = owner.confidence_threshold

    def nearest(self, query: str, k: int, allowed: set[int] | None) -> list[tuple[int, float]]:
        return self.owner.nearest(query, k, allowed, self.store)

    def similarities(self, query: str, chunk_ids: Sequence[int]) -> dict[int, float]:
        return self.owner.similarities(query, chunk_ids, self.store)

    def explain(self, query: str, passages: Sequence[tuple[str, int]]) -> list[Explanation]:
        return self.owner.explain(query, passages)

    def neighbours(self, chunk_id: int, k: int, excluded: set[int]) -> list[tuple[int, float]]:
        return self.owner.neighbours(chunk_id, k, excluded, self.store)
