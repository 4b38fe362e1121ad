"""Overwrites the vectors of deleted labels in an hnswlib index, which would keep them for good.

hnswlib's mark_deleted only sets a flag in the slot: the vector stays in memory, goes into
every saved file, and still routes searches until the slot is reused. An embedding is as
telling as its passage (vec2text recovers most short passages from theirs), so before Dowse
saves, the deleted slots' vectors become zeros. hnswlib has no call that writes one slot's
vector without rewiring its neighbours (about 10 ms each), so the index goes through its own
pickling state: copied out, the deleted slots zeroed in the copy, and a new index built from
it. That costs about two copies of the index (tens of milliseconds for 100,000 384-d
vectors) and, for a moment, twice its memory; the old index's memory is handed back.

A zeroed slot scores 0 against every query and so is no longer a useful stepping stone:
searches route around it through its live neighbours, as after a real removal. The slot
stays marked deleted and is reused for the next new label, as before.

live_vectors reads the live slots out of the same state: the vectors of a small index in one
matrix for its exact search (IndexConfig.exact_below), 30 ms at 20,000 against 1.2 s through
hnswlib's get_items.
"""

from __future__ import annotations

import hnswlib
import numpy as np

_FLAGS_BYTE = 2  # of a level-0 record: hnswlib's per-element flags (bit 0: deleted)
_DELETE_MARK = 0x01


def live_vectors(index: hnswlib.Index, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The labels (int64) of `index`'s live slots and their vectors (float32), slot order."""
    (state,) = index.__getstate__()
    size, count = int(state["size_data_per_element"]), int(state["cur_element_count"])
    records = np.asarray(state["data_level0"])[: count * size].reshape(count, size)
    live = ~(records[:, _FLAGS_BYTE] & _DELETE_MARK).astype(bool)
    start, label_at = int(state["offset_data"]), int(state["label_offset"])
    vectors = np.ascontiguousarray(records[live, start : start + 4 * dim]).view(np.float32)
    labels = np.ascontiguousarray(records[live, label_at : label_at + 8]).view(np.uint64)
    return labels.reshape(-1).astype(np.int64), vectors.reshape(-1, dim)


def scrub_deleted(index: hnswlib.Index) -> tuple[hnswlib.Index, int]:
    """`index` again with every deleted slot's vector overwritten by zeros, and how many
    slots that took; the same object when no deleted slot holds a vector any more."""
    (state,) = index.__getstate__()
    size, count = int(state["size_data_per_element"]), int(state["cur_element_count"])
    records = np.asarray(state["data_level0"])[: count * size].reshape(count, size)
    deleted = (records[:, _FLAGS_BYTE] & _DELETE_MARK).astype(bool)
    vectors = slice(int(state["offset_data"]), int(state["label_offset"]))
    dirty = np.flatnonzero(deleted & records[:, vectors].any(axis=1))
    if not len(dirty):
        return index, 0
    records[dirty, vectors] = 0
    fresh = hnswlib.Index.__new__(hnswlib.Index)
    fresh.__setstate__((state,))
    fresh.set_ef(index.ef)
    return fresh, len(dirty)
