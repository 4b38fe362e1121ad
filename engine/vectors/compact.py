"""The HNSW graph over PCA-projected vectors, its hits rescored exactly from the stored ones.

At 1M passages a graph of full 384-d float32 vectors holds 1.5 GB of vectors that SQLite
already stores as float16. Past `IndexConfig.reduce_from` passages the graph holds each
vector projected on the top `reduced_dim` principal directions of the stored vectors
(engine/vectors/projection.py, kept in the meta table by the caller); a search takes the
graph's best `rescore` candidates (more in a large index: CompactIndex.pool) and ranks them
by their exact inner product with the query, from the stored vectors
(bench/vector_memory_study.py measured the trade, bench/rescore_depth.py the depth).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.config import IndexConfig
from engine.vectors.index import LabelFilter, Labels, VectorIndex, Vectors
from engine.vectors.projection import Projection, fit_projection
from engine.vectors.repair import FetchVectors, ReconcileReport, open_or_rebuild

logger = logging.getLogger(__name__)

# Reads the stored vectors of those of these chunk ids that still have one, in order: the
# ids found and their vectors. Searches pass their own, reading through their thread's store.
FetchFound = Callable[[Sequence[int]], tuple[Sequence[int], npt.ArrayLike]]

FIT_SAMPLE = 50_000  # stored vectors a projection is fitted on, at most
_CHECKED = 32  # labels whose projected vector is compared with the file's on open
_CHECK_TOLERANCE = 0.02  # float16 storage moves a projected coordinate by about 1e-3


@dataclass(frozen=True)
class CompactReport:
    repair: ReconcileReport
    projection: Projection | None  # the one the graph now uses
    refitted: bool  # the projection is new: the caller stores it (Projection.to_text)


class CompactIndex:
    """Chunk ids to vectors: the graph in memory, the exact vectors wherever `fetch` reads.

    With no projection the graph holds the full unit vectors and its scores are exact.
    """

    def __init__(
        self, graph: VectorIndex, projection: Projection | None, config: IndexConfig,
        fetch: FetchFound,
    ) -> None:
        self.graph = graph
        self.projection = projection
        self.config = config
        self._fetch = fetch
        self.dim = projection.dim if projection is not None else graph.dim

    @property
    def path(self) -> Path:
        return self.graph.path

    @property
    def needs_scrub(self) -> bool:
        return self.graph.needs_scrub

    def __len__(self) -> int:
        return len(self.graph)

    def __contains__(self, label: object) -> bool:
        return label in self.graph

    def labels(self) -> Labels:
        return self.graph.labels()

    def get_vectors(self, labels: Iterable[int] | npt.NDArray[np.integer]) -> Vectors:
        """The vectors the graph holds (projected, when it has a projection)."""
        return self.graph.get_vectors(labels)

    def add(self, labels: Iterable[int] | npt.NDArray[np.integer], vectors: npt.ArrayLike) -> None:
        self.graph.add(labels, self._to_graph(_unit(vectors)))

    def delete(self, labels: Iterable[int] | npt.NDArray[np.integer]) -> int:
        return self.graph.delete(labels)

    def scrub(self) -> int:
        return self.graph.scrub()

    def save(self) -> None:
        self.graph.save()

    def search(
        self, queries: npt.ArrayLike, k: int, filter: LabelFilter | None = None,
        fetch: FetchFound | None = None, *, among: int | None = None,
    ) -> tuple[Labels, Vectors]:
        """Top-k labels and exact inner products, best first, one row per query.

        `among`: how many labels `filter` lets through, when the caller knows; the pool
        grows with those rather than with the whole index (see pool()).
        """
        data = _unit(queries)
        if self.projection is None:
            return self.graph.search(data, k, filter)
        pool = self.pool(k, among)
        # hnswlib searches with ef = max(ef, k), and a k close to ef costs graph recall (0.975
        # of the projected top 1,000 at ef 1,024 against 0.992 at 2,048, 1M passages): a deep
        # pool asks the graph for twice its size and keeps the best `pool`.
        depth = pool if 2 * pool <= self.config.ef else 2 * pool
        candidates, _ = self.graph.search(self.projection.apply(data), depth, filter)
        candidates = candidates[:, :pool]
        rows = [self._rescore(q, c, k, fetch or self._fetch) for q, c in zip(data, candidates,
                                                                             strict=True)]
        width = min((len(r[0]) for r in rows), default=0)
        return (np.array([r[0][:width] for r in rows], dtype=np.int64).reshape(len(rows), width),
                np.array([r[1][:width] for r in rows], dtype=np.float32).reshape(len(rows), width))

    def pool(self, k: int, among: int | None = None) -> int:
        """How many of the graph's candidates a search for `k` results rescores exactly,
        among `among` labels that a filter allows (all of the index when None)."""
        count = len(self.graph) if among is None else min(among, len(self.graph))
        grown = -(-count * self.config.rescore_per_million // 1_000_000)
        return max(self.config.rescore, 3 * k, grown)

    @staticmethod
    def _rescore(
        query: Vectors, candidates: Labels, k: int, fetch: FetchFound
    ) -> tuple[Labels, Vectors]:
        # A passage removed from SQLite since the graph was told is simply not found.
        found, vectors = fetch(candidates.tolist())
        if not len(found):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scores = np.asarray(vectors, dtype=np.float32) @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return np.asarray(found, dtype=np.int64)[order], scores[order].astype(np.float32)

    def _to_graph(self, vectors: Vectors) -> Vectors:
        return vectors if self.projection is None else self.projection.apply(vectors)


def open_compact(
    path: Path,
    dim: int,
    config: IndexConfig,
    expected_labels: Iterable[int] | npt.NDArray[np.integer],
    fetch: FetchFound,
    stored: Projection | None,
) -> tuple[CompactIndex, CompactReport]:
    """Load or rebuild the graph at `path` for the projection the policy wants now.

    The policy: full vectors below `config.reduce_from` passages; a projection fitted on the
    stored vectors once there are that many; refitted (and the graph rebuilt, at this open)
    when the index has grown `config.refit_growth` times since the fit. A graph file made
    for another projection or none (an index from before projections) is rebuilt from the
    stored vectors, nothing re-embedded.
    """
    expected = np.unique(np.fromiter(expected_labels, dtype=np.int64)
                         if not isinstance(expected_labels, np.ndarray)
                         else expected_labels.astype(np.int64))
    projection, refitted = _wanted_projection(stored, config, expected, fetch, dim)
    if refitted and path.exists():
        # A new fit: the file holds the graph of the vectors before it. Rebuilding it is the
        # plan (a first index grew past reduce_from), not damage, so it is no warning.
        logger.info("rebuilding the vector index %s for its new projection", path)
        path.unlink()
    strict = _strict(fetch)
    graph_dim = projection.reduced if projection is not None else dim
    unit = projection is None
    if projection is not None:  # the projected graph's own M (IndexConfig.reduced_m)
        config = dataclasses.replace(config, m=config.reduced_m)

    def fetch_graph(labels: Sequence[int]) -> npt.ArrayLike:
        vectors = _unit(strict(labels))
        return vectors if projection is None else projection.apply(vectors)

    graph, report = open_or_rebuild(path, graph_dim, config, expected, fetch_graph, unit=unit)
    if not report.rebuilt and not _matches(graph, projection, strict):
        logger.warning("rebuilding the vector index %s: it was made for another projection", path)
        path.unlink(missing_ok=True)
        graph, report = open_or_rebuild(path, graph_dim, config, expected, fetch_graph,
                                        unit=unit)
    index = CompactIndex(graph, projection, config, fetch)
    return index, CompactReport(report, projection, refitted)


def _wanted_projection(
    stored: Projection | None, config: IndexConfig, expected: Labels, fetch: FetchFound, dim: int
) -> tuple[Projection | None, bool]:
    count = len(expected)
    if not 0 < config.reduced_dim < dim:
        return None, False
    if stored is not None and stored.reduced == config.reduced_dim and (
        count < stored.fitted_on * config.refit_growth
    ):
        return stored, False
    if count < config.reduce_from:
        # A projection fitted before stays: a collection that shrank is not rebuilt for it.
        keep = stored is not None and stored.reduced == config.reduced_dim
        return (stored if keep else None), False
    rng = np.random.default_rng(count)  # the same sample for the same labels
    sample = expected if count <= FIT_SAMPLE else np.sort(rng.choice(expected, FIT_SAMPLE,
                                                                      replace=False))
    vectors = np.concatenate([_unit(_strict(fetch)(sample[i : i + 4096].tolist()))
                              for i in range(0, len(sample), 4096)])
    logger.info("fitting a %d-d projection on %d of %d stored vectors", config.reduced_dim,
                len(sample), count)
    return fit_projection(vectors, config.reduced_dim, count), True


def _matches(graph: VectorIndex, projection: Projection | None, strict: FetchVectors) -> bool:
    """Whether the graph's vectors are the stored ones as this projection maps them."""
    labels = graph.labels()
    if not len(labels):
        return True
    picked = labels[np.linspace(0, len(labels) - 1, min(_CHECKED, len(labels))).astype(int)]
    wanted = _unit(strict(picked.tolist()))
    if projection is not None:
        wanted = projection.apply(wanted)
    held = graph.get_vectors(picked)
    return bool(np.abs(held - wanted).max() <= _CHECK_TOLERANCE)


def _strict(fetch: FetchFound) -> FetchVectors:
    def fetch_all(labels: Sequence[int]) -> npt.ArrayLike:
        found, vectors = fetch(labels)
        if len(found) != len(labels):
            raise KeyError(f"{len(labels) - len(found)} chunks have no stored vector")
        return vectors

    return fetch_all


def _unit(vectors: npt.ArrayLike) -> Vectors:
    data = np.asarray(vectors, dtype=np.float32)
    if data.ndim == 1:
        data = data[None, :]
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    return np.ascontiguousarray(data / np.where(norms > 0, norms, 1), dtype=np.float32)
