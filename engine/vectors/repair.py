"""Brings the derived HNSW file back in line with SQLite, the source of truth for chunk vectors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.config import IndexConfig
from engine.vectors.hnsw_file import IndexFileError, read_hnsw_file
from engine.vectors.index import MIN_CAPACITY, Labels, VectorIndex

logger = logging.getLogger(__name__)

# Reads the vectors of these chunk ids from SQLite, one row per id, in the same order.
FetchVectors = Callable[[Sequence[int]], npt.ArrayLike]

FETCH_BATCH = 4096


@dataclass(frozen=True)
class ReconcileReport:
    added: int
    removed: int
    rebuilt: bool
    reason: str = ""  # why the index was rebuilt; empty when it was not


def reconcile(
    index: VectorIndex,
    expected_labels: Iterable[int] | npt.NDArray[np.integer],
    fetch: FetchVectors,
    *,
    batch_size: int = FETCH_BATCH,
) -> ReconcileReport:
    """Make `index` hold exactly `expected_labels`: delete the extras, fetch and add the rest.

    Meant for start-up, before other threads write to the index.
    """
    expected = _label_set(expected_labels)
    present = index.labels()
    extra = np.setdiff1d(present, expected, assume_unique=True)
    missing = np.setdiff1d(expected, present, assume_unique=True)
    index.delete(extra)
    _add_fetched(index, missing, fetch, batch_size)
    return ReconcileReport(added=len(missing), removed=len(extra), rebuilt=False)


def open_or_rebuild(
    path: Path,
    dim: int,
    config: IndexConfig,
    expected_labels: Iterable[int] | npt.NDArray[np.integer],
    fetch: FetchVectors,
    *,
    batch_size: int = FETCH_BATCH,
    unit: bool = True,
) -> tuple[VectorIndex, ReconcileReport]:
    """Load the index at `path` and reconcile it, or rebuild it from `fetch` when the file
    is missing, unusable, or differs from `expected_labels` in more than half the labels.

    A damaged file is logged and rebuilt, never raised. A changed index is saved; a failed
    save is logged and the index is returned anyway, since it works in memory.
    """
    expected = _label_set(expected_labels)
    _remove_stale_temp_files(path)
    try:
        index = VectorIndex.load(path, dim, config, unit=unit)
    except FileNotFoundError:
        reason = "no index file"
        logger.info("building the vector index %s from the database", path)
    except IndexFileError as exc:
        reason = str(exc)
        logger.warning("rebuilding the vector index from the database: %s", reason)
    else:
        present = index.labels()
        wrong = len(np.setxor1d(present, expected, assume_unique=True))
        if wrong * 2 <= len(expected):
            report = reconcile(index, expected, fetch, batch_size=batch_size)
            if report.added or report.removed or index.needs_scrub:
                _save_or_warn(index)
            return index, report
        reason = f"{wrong} labels differ from the database's {len(expected)}"
        logger.warning("rebuilding the vector index %s: %s", path, reason)
    index = VectorIndex(path, dim, config, capacity=max(len(expected), MIN_CAPACITY), unit=unit)
    _add_fetched(index, expected, fetch, batch_size)
    _save_or_warn(index)
    return index, ReconcileReport(added=len(expected), removed=0, rebuilt=True, reason=reason)


def prune_file(
    path: Path, dim: int, config: IndexConfig, keep: Iterable[int] | npt.NDArray[np.integer]
) -> int:
    """Rewrite the index file without the vectors of labels not in `keep`, when no index is
    open (the model is not loaded): returns how many were dropped.

    A file that cannot be read is removed: it is derived, and rebuilt from SQLite. A file of
    projected vectors (engine/vectors/compact.py) has fewer dimensions than `dim`; it is
    pruned as it is.
    """
    try:
        stored_dim = read_hnsw_file(path).dim
        index = VectorIndex.load(path, min(dim, stored_dim), config, unit=stored_dim >= dim)
    except FileNotFoundError:
        return 0
    except IndexFileError as exc:
        logger.warning("removing the unusable vector index %s: %s", path, exc)
        path.unlink(missing_ok=True)
        return 0
    extra = np.setdiff1d(index.labels(), _label_set(keep), assume_unique=True)
    index.delete(extra)
    if index.needs_scrub:
        index.save()
    return len(extra)


def _label_set(labels: Iterable[int] | npt.NDArray[np.integer]) -> Labels:
    ids = labels if isinstance(labels, np.ndarray) else np.fromiter(labels, dtype=np.int64)
    return np.unique(ids.astype(np.int64))


def _add_fetched(index: VectorIndex, labels: Labels, fetch: FetchVectors, batch_size: int) -> None:
    for start in range(0, len(labels), batch_size):
        batch = labels[start : start + batch_size].tolist()
        vectors = np.asarray(fetch(batch), dtype=np.float32)
        if vectors.shape != (len(batch), index.dim):
            raise ValueError(
                f"fetch returned shape {vectors.shape} for {len(batch)} labels of {index.dim}-d"
            )
        index.add(np.asarray(batch, dtype=np.int64), vectors)


def _save_or_warn(index: VectorIndex) -> None:
    try:
        index.save()
    except OSError as exc:
        logger.warning("could not save the vector index %s: %s", index.path, exc)


def _remove_stale_temp_files(path: Path) -> None:
    # A crash during save() leaves its temp file behind; nothing else writes these names.
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()
