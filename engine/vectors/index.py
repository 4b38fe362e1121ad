"""The approximate nearest-neighbour index over chunk vectors, safe to search while it grows."""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import hnswlib
import numpy as np
import numpy.typing as npt

from engine.config import IndexConfig
from engine.vectors.hnsw_file import CorruptIndexError, IndexMismatchError, read_hnsw_file
from engine.vectors.rwlock import RWLock
from engine.vectors.scrub import live_vectors, scrub_deleted

logger = logging.getLogger(__name__)

LabelFilter = Callable[[int], bool]
Labels = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]

MIN_CAPACITY = 1024
_GROWTH = 1.5
_EXACT_BLOCK = 16_384  # vectors fetched at a time when falling back to exact search
# hnswlib's knn_query raises this when it finds fewer than k neighbours.
_SHORT_RESULT = "contiguous 2D array"


class VectorIndex:
    """hnswlib inner-product index over float32 vectors (L2-normalised unless `unit` is
    False), keyed by chunk id.

    `VectorIndex(path, dim, config)` starts an empty index; `VectorIndex.load` opens a saved
    one. Nothing touches `path` until `save()`.

    hnswlib is not safe for add_items concurrent with knn_query (nmslib/hnswlib#29, #562),
    so searches share an RWLock and adds, deletes and resizes hold it alone.
    """

    def __init__(
        self,
        path: Path,
        dim: int,
        config: IndexConfig,
        *,
        capacity: int = MIN_CAPACITY,
        unit: bool = True,
    ) -> None:
        self._setup(path, dim, config, unit)
        self._index.init_index(
            max_elements=capacity,
            M=config.m,
            ef_construction=config.ef_construction,
            allow_replace_deleted=True,
        )
        # hnswlib searches with max(ef, k) (searchKnn), so ef >= k holds for every query
        # without calling set_ef per search, which would race between concurrent readers.
        self._index.set_ef(config.ef)

    @classmethod
    def load(cls, path: Path, dim: int, config: IndexConfig, *, unit: bool = True) -> VectorIndex:
        """Open a saved index; raise FileNotFoundError or an IndexFileError when unusable."""
        info = read_hnsw_file(path)
        if info.dim != dim:
            raise IndexMismatchError(f"{path} holds {info.dim}-d vectors, expected {dim}")
        # hnswlib stores ef_construction raised to at least M. A file's own M is kept: a
        # graph made before a change of the default (IndexConfig.reduced_m) stays usable.
        if info.ef_construction != max(config.ef_construction, info.m):
            raise IndexMismatchError(
                f"{path} was built with M={info.m}, ef_construction={info.ef_construction}"
            )
        index = cls.__new__(cls)
        index._setup(path, dim, config, unit)
        # Passing the element count as capacity keeps hnswlib from trusting the header's.
        try:
            index._index.load_index(
                str(path), max_elements=len(info.labels), allow_replace_deleted=True
            )
        except RuntimeError as exc:  # hnswlib's own checks, should the file change under us
            raise CorruptIndexError(f"{path}: {exc}") from exc
        index._index.set_ef(config.ef)  # load_index resets ef to 10
        index._live = set(info.labels[~info.deleted].tolist())
        index._lapsed = set(info.labels[info.deleted].tolist())
        index._unscrubbed = info.unscrubbed > 0  # a file saved before Dowse scrubbed
        return index

    def _setup(self, path: Path, dim: int, config: IndexConfig, unit: bool) -> None:
        if dim <= 0:
            raise ValueError(f"dimension must be positive, got {dim}")
        self.path = path
        self.dim = dim
        # Whether vectors are L2-normalised on the way in; projected vectors are kept as they
        # are, since their length carries the part of the inner product they still hold.
        self.unit = unit
        self.config = config
        self._index = hnswlib.Index(space="ip", dim=dim)
        self._live: set[int] = set()
        # Deleted labels that may still own a slot in hnswlib. A superset: reusing a slot
        # evicts its label and hnswlib does not say which one it picked.
        self._lapsed: set[int] = set()
        # Whether a deleted slot may still hold its vector: scrub() overwrites it.
        self._unscrubbed = False
        self._lock = RWLock()
        self._save_lock = threading.Lock()
        # The live labels and their vectors as one matrix, for exact search in a small index
        # (IndexConfig.exact_below); made by the first search after a change.
        self._dense: tuple[Labels, Vectors] | None = None
        self._dense_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, label: object) -> bool:
        return label in self._live

    @property
    def capacity(self) -> int:
        return int(self._index.max_elements)

    @property
    def slot_count(self) -> int:
        """Slots in use, live or deleted; adding after deleting reuses deleted ones first."""
        return int(self._index.element_count)

    @property
    def needs_scrub(self) -> bool:
        """Whether deleted vectors may still be in memory (and so in a save made now)."""
        return self._unscrubbed

    def labels(self) -> Labels:
        """Live labels, sorted, as int64."""
        with self._lock.read():
            return np.sort(np.fromiter(self._live, dtype=np.int64, count=len(self._live)))

    def get_vectors(self, labels: Iterable[int] | npt.NDArray[np.integer]) -> Vectors:
        """The stored (normalised) vectors; KeyError for a label that is not live."""
        wanted = _as_labels(labels).tolist()
        with self._lock.read():
            missing = [label for label in wanted if label not in self._live]
            if missing:
                raise KeyError(f"labels not in the index: {missing[:10]}")
            if not wanted:
                return np.empty((0, self.dim), dtype=np.float32)
            return np.asarray(self._index.get_items(wanted), dtype=np.float32)

    def add(self, labels: Iterable[int] | npt.NDArray[np.integer], vectors: npt.ArrayLike) -> None:
        """Insert or replace vectors; a live label keeps its slot, new ones take freed slots.

        Both reuses go through hnswlib's updatePoint, which rewires the slot's whole
        neighbourhood: about 10 ms a 384-d vector at M=32 (2 cores), against about 1 ms
        for an insert into a fresh slot.
        """
        ids = _as_labels(labels)
        data = self._normalise(vectors)
        if len(ids) != len(data):
            raise ValueError(f"{len(ids)} labels for {len(data)} vectors")
        if not len(ids):
            return
        # The last row wins for a label given twice; hnswlib would file both in two slots.
        _, last = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last)
        ids, data = ids[keep], data[keep]
        with self._lock.write():
            live = np.fromiter((i in self._live for i in ids.tolist()), bool, len(ids))
            lapsed = np.fromiter((i in self._lapsed for i in ids.tolist()), bool, len(ids))
            # Reserve room before touching anything, so a failed resize changes nothing.
            # Labels not live need a slot each; deleted slots (taken back by revived labels
            # or reused for new ones) cover part of that.
            free_deleted = self.slot_count - len(self._live)
            needed = self.slot_count + max(0, int((~live).sum()) - free_deleted)
            if needed > self.capacity:
                self._index.resize_index(max(needed, math.ceil(self.capacity * _GROWTH)))
            in_place = live.copy()
            for row in np.flatnonzero(lapsed):
                label = int(ids[row])
                self._lapsed.discard(label)
                # With allow_replace_deleted, hnswlib refuses to add over a deleted label
                # and its replace_deleted path would give the label a second slot, so the
                # label's own slot is revived and updated in place.
                try:
                    self._index.unmark_deleted(label)
                except RuntimeError:
                    continue  # its slot was reused for another label; it is new again
                in_place[row] = True
                self._live.add(label)
            if in_place.any():
                self._index.add_items(data[in_place], ids[in_place], num_threads=-1)
            fresh = ~in_place
            if fresh.any():
                self._index.add_items(data[fresh], ids[fresh], num_threads=-1, replace_deleted=True)
                self._live.update(ids[fresh].tolist())
            self._forget_evicted()
            self._dense = None

    def delete(self, labels: Iterable[int] | npt.NDArray[np.integer]) -> int:
        """Mark labels deleted so they never come back; unknown labels are ignored."""
        ids = set(_as_labels(labels).tolist())
        with self._lock.write():
            gone = ids & self._live
            for label in gone:
                self._index.mark_deleted(label)
                self._live.discard(label)
                self._lapsed.add(label)
            self._unscrubbed = self._unscrubbed or bool(gone)
            if gone:
                self._dense = None
        return len(gone)

    def scrub(self) -> int:
        """Overwrite the vectors of deleted labels with zeros (engine/vectors/scrub.py);
        returns how many. save() does it first, so no saved file holds a deleted vector."""
        with self._lock.write():
            if not self._unscrubbed:
                return 0
            self._index, count = scrub_deleted(self._index)
            self._unscrubbed = False
        return count

    def search(
        self, queries: npt.ArrayLike, k: int, filter: LabelFilter | None = None
    ) -> tuple[Labels, Vectors]:
        """Top-k labels (int64) and inner-product scores (float32), best first, per query.

        The result always has one row per query, also for a single 1-d query. k shrinks to
        the number of live labels, or to the number `filter` allows when fewer.
        """
        data = self._normalise(queries)
        with self._lock.read():
            k = min(k, len(self._live))
            if k <= 0 or not len(data):
                return _empty(len(data))
            if len(self._live) <= self.config.exact_below:
                return self._search_dense(data, k, filter)
            # One thread per query: concurrent searches come from the caller's threads, and
            # a Python filter holds the GIL anyway.
            try:
                labels, distances = self._index.knn_query(data, k=k, num_threads=1, filter=filter)
            except RuntimeError as exc:
                if _SHORT_RESULT not in str(exc):
                    raise
                if filter is None:
                    logger.warning(
                        "HNSW graph returned fewer than %d results; searching exactly", k
                    )
                return self._search_exact(data, k, filter)
        # hnswlib's "ip" distance is 1 - dot product.
        return labels.astype(np.int64), (1.0 - distances).astype(np.float32)

    def save(self) -> None:
        """Write the index to `path` atomically: a crash leaves the old file or the new one.

        Deleted vectors are scrubbed first. Saving only reads the graph, so searches go on
        meanwhile; adds wait.
        """
        while True:
            self.scrub()
            with self._lock.read(), self._save_lock:
                if not self._unscrubbed:  # else a delete came in since: scrub that one too
                    self._write_file()
                    return

    def _write_file(self) -> None:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            self._index.save_index(str(tmp))
            # hnswlib does not check its writes, so a full disk shows up only as a short file.
            written, expected = tmp.stat().st_size, int(self._index.index_file_size())
            if written != expected:
                raise OSError(errno.ENOSPC, f"wrote {written} of {expected} bytes to {tmp}")
            _fsync_file(tmp)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.path.parent)

    def _search_exact(
        self, queries: Vectors, k: int, filter: LabelFilter | None
    ) -> tuple[Labels, Vectors]:
        candidates = sorted(self._live)
        if filter is not None:
            candidates = [label for label in candidates if filter(label)]
        k = min(k, len(candidates))
        if not k:
            return _empty(len(queries))
        best_labels = np.empty((len(queries), 0), dtype=np.int64)
        best_scores = np.empty((len(queries), 0), dtype=np.float32)
        for start in range(0, len(candidates), _EXACT_BLOCK):
            block = candidates[start : start + _EXACT_BLOCK]
            scores = queries @ np.asarray(self._index.get_items(block), dtype=np.float32).T
            block_labels = np.broadcast_to(np.asarray(block, dtype=np.int64), scores.shape)
            all_scores = np.hstack([best_scores, scores])
            all_labels = np.hstack([best_labels, block_labels])
            top = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
            best_scores = np.take_along_axis(all_scores, top, axis=1)
            best_labels = np.take_along_axis(all_labels, top, axis=1)
        return best_labels, best_scores.astype(np.float32)

    def _search_dense(
        self, queries: Vectors, k: int, filter: LabelFilter | None
    ) -> tuple[Labels, Vectors]:
        """Exact top-k over every live vector (IndexConfig.exact_below), best first."""
        with self._dense_lock:
            if self._dense is None:
                self._dense = live_vectors(self._index, self.dim)
            labels, vectors = self._dense
        if filter is not None:
            keep = np.fromiter(map(filter, labels.tolist()), dtype=bool, count=len(labels))
            labels, vectors = labels[keep], vectors[keep]
        k = min(k, len(labels))
        if not k:
            return _empty(len(queries))
        scores = queries @ vectors.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        return labels[top], np.take_along_axis(scores, top, axis=1).astype(np.float32)

    def _forget_evicted(self) -> None:
        # Slot reuse leaves evicted labels in _lapsed; once they dominate it, recount from
        # hnswlib's label table (which still lists labels whose slot is deleted).
        deleted_slots = self.slot_count - len(self._live)
        if len(self._lapsed) > 2 * deleted_slots + MIN_CAPACITY:
            present = set(np.asarray(self._index.get_ids_list(), dtype=np.int64).tolist())
            self._lapsed = present - self._live

    def _normalise(self, vectors: npt.ArrayLike) -> Vectors:
        data = np.asarray(vectors, dtype=np.float32)
        if data.ndim == 1:
            data = data[None, :]
        if data.ndim != 2 or data.shape[1] != self.dim:
            raise ValueError(f"expected vectors of dimension {self.dim}, got shape {data.shape}")
        if not np.isfinite(data).all():
            raise ValueError("vectors must be finite")
        if not self.unit:
            return np.ascontiguousarray(data, dtype=np.float32)
        norms = np.linalg.norm(data, axis=1, keepdims=True)
        # A zero vector has no direction; it stays zero and scores 0 against everything.
        return np.ascontiguousarray(data / np.where(norms > 0, norms, 1), dtype=np.float32)


def _as_labels(labels: Iterable[int] | npt.NDArray[np.integer]) -> Labels:
    ids = labels if isinstance(labels, np.ndarray) else np.fromiter(labels, dtype=np.int64)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise ValueError("labels must be a 1-d sequence of integers")
    if ids.size and (ids.min() < 0 or ids.max() > np.iinfo(np.int64).max):
        raise ValueError("labels must be non-negative 64-bit integers")
    return ids.astype(np.int64)


def _empty(rows: int) -> tuple[Labels, Vectors]:
    return np.empty((rows, 0), dtype=np.int64), np.empty((rows, 0), dtype=np.float32)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    # Windows cannot open a directory to fsync it; MoveFileEx there commits the rename.
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
