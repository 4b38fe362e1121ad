"""How the indexer yields to searches: a gate searches hold open, and vectors that wait on it.

The engine's worker embeds and writes the vector index in small slices and, before each,
waits (never longer than MAX_YIELD_SECONDS) until no search is running, so a search never
queues behind a whole batch of indexing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from engine.search.semantic import SemanticIndex

EMBED_SLICE = 32  # passages embedded between two looks at whether a search is waiting
MAX_YIELD_SECONDS = 2.0  # the worker never waits longer than this for searches to finish


class QueryGate:
    """Lets the indexer step aside while searches run, without ever starving it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0

    @contextmanager
    def query(self) -> Iterator[None]:
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def wait_quiet(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._active == 0, timeout=MAX_YIELD_SECONDS)


class GatedVectors:
    """The semantic index as the indexer sees it, yielding to searches between slices."""

    def __init__(self, semantic: SemanticIndex, gate: QueryGate) -> None:
        self.semantic = semantic
        self.gate = gate

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        # Sliced by length, so each slice pads little (the meaning phase's batches come in
        # file order), and put back in the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        parts = []
        for start in range(0, len(order), EMBED_SLICE):
            self.gate.wait_quiet()
            chunk = [texts[i] for i in order[start : start + EMBED_SLICE]]
            parts.append(self.semantic.embed_passages(chunk))
        if not parts:
            return np.empty((0, self.semantic.dim), np.float32)
        stacked = np.concatenate(parts)
        out = np.empty_like(stacked)
        out[order] = stacked
        return out

    def vector_column(self, vectors: np.ndarray) -> list[dict[str, Any]]:
        return self.semantic.vector_column(vectors)

    def blob_vectors(self, blobs: Sequence[bytes]) -> np.ndarray:
        return self.semantic.blob_vectors(blobs)

    def apply(self, removed: Sequence[int], added: Sequence[int], vectors: np.ndarray) -> None:
        self.gate.wait_quiet()
        self.semantic.apply(removed, added, vectors)

    def checkpoint(self) -> None:
        self.semantic.checkpoint()
