"""Checks an index file before hnswlib loads it, since hnswlib trusts the file and can crash."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
import numpy.typing as npt

# HierarchicalNSW::saveIndex in hnswlib 0.8 (hnswalg.h) writes, in native byte order:
# offsetLevel0, max_elements, cur_element_count, size_data_per_element, label_offset,
# offsetData (size_t each), maxlevel (int), enterpoint_node (uint32), maxM, maxM0, M
# (size_t), mult (double), ef_construction (size_t). Then cur_element_count level-0 records
# of size_data_per_element bytes, then per element a uint32 byte count and its upper-level
# link lists. Dowse only runs on little-endian machines, as hnswlib's own files assume.
_HEADER = struct.Struct("<6QiI3QdQ")
_NO_NODE = 0xFFFFFFFF
_DELETE_MARK = 0x01  # bit 0 of byte 2 of a level-0 record
_BLOCK_BYTES = 64 << 20  # level-0 records are checked this many bytes at a time


class _Header(NamedTuple):
    offset_level0: int
    max_elements: int
    element_count: int
    record_size: int
    label_offset: int
    offset_data: int
    max_level: int
    entry_point: int
    max_m: int
    max_m0: int
    m: int
    mult: float
    ef_construction: int


class IndexFileError(Exception):
    """The index file cannot be used as it is; it is rebuilt from SQLite."""


class CorruptIndexError(IndexFileError):
    """The index file is truncated, damaged, or not an hnswlib index."""


class IndexMismatchError(IndexFileError):
    """The index file was built for another vector dimension or other HNSW parameters."""


@dataclass(frozen=True)
class HnswFileInfo:
    dim: int
    m: int
    ef_construction: int
    labels: npt.NDArray[np.int64]  # label of every slot, live or deleted
    deleted: npt.NDArray[np.bool_]  # True where the slot is marked deleted
    # Deleted slots whose vector is still there (hnswlib keeps it; engine/vectors/scrub.py
    # overwrites it with zeros before Dowse saves).
    unscrubbed: int = 0


def read_hnsw_file(path: Path) -> HnswFileInfo:
    """Parse and check the file's structure; raise CorruptIndexError when anything is off.

    Every neighbour id is checked against the element count and every upper-level link
    against the level of its target, because hnswlib follows them without bounds checks.
    """
    with path.open("rb") as f:
        file_size = f.seek(0, 2)
        f.seek(0)
        head = f.read(_HEADER.size)
        if len(head) != _HEADER.size:
            raise CorruptIndexError(f"{path} is too short for an hnswlib header")
        h = _Header._make(_HEADER.unpack(head))
        data_size = h.label_offset - h.offset_data
        checks = (
            h.offset_level0 == 0,
            2 <= h.m <= 10_000 and h.max_m == h.m and h.max_m0 == 2 * h.m,
            h.m >= 2 and math.isclose(h.mult, 1 / math.log(h.m), rel_tol=1e-9),
            h.offset_data == 4 + 4 * h.max_m0,
            data_size > 0 and data_size % 4 == 0,
            h.record_size == h.label_offset + 8,
            0 < h.ef_construction <= 1 << 20,
            _HEADER.size + h.element_count * (h.record_size + 4) <= file_size,
            h.element_count == 0 or (h.entry_point < h.element_count and h.max_level >= 0),
        )
        if not all(checks):
            raise CorruptIndexError(f"{path} has an inconsistent hnswlib header")
        labels, deleted, unscrubbed = _read_level0(f, h, path)
        _check_upper_levels(f.read(), h, path)
    if np.unique(labels).size != labels.size:
        raise CorruptIndexError(f"{path} holds a label twice")
    return HnswFileInfo(data_size // 4, h.m, h.ef_construction, labels, deleted, unscrubbed)


def _read_level0(
    f: BinaryIO, h: _Header, path: Path
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], int]:
    count, record_size, label_offset, max_m0 = (
        h.element_count,
        h.record_size,
        h.label_offset,
        h.max_m0,
    )
    labels = np.empty(count, dtype=np.int64)
    deleted = np.empty(count, dtype=bool)
    rows_per_block = max(1, _BLOCK_BYTES // record_size)
    slots = np.arange(max_m0)
    unscrubbed = 0
    for start in range(0, count, rows_per_block):
        rows = min(rows_per_block, count - start)
        raw = f.read(rows * record_size)
        if len(raw) != rows * record_size:
            raise CorruptIndexError(f"{path} is truncated")
        records = np.frombuffer(raw, dtype=np.uint8).reshape(rows, record_size)
        n_links = records[:, 0:2].copy().view("<u2")[:, 0]
        links = records[:, 4 : 4 + 4 * max_m0].copy().view("<u4")
        block_labels = records[:, label_offset : label_offset + 8].copy().view("<u8")[:, 0]
        if (n_links > max_m0).any() or (links[slots < n_links[:, None]] >= count).any():
            raise CorruptIndexError(f"{path} has a level-0 link to no element")
        if (block_labels >= 1 << 63).any():
            raise CorruptIndexError(f"{path} has a label out of range")
        labels[start : start + rows] = block_labels
        block_deleted = (records[:, 2] & _DELETE_MARK).astype(bool)
        deleted[start : start + rows] = block_deleted
        vectors = records[block_deleted, h.offset_data : label_offset]
        unscrubbed += int(vectors.any(axis=1).sum())
    return labels, deleted, unscrubbed


def _check_upper_levels(tail: bytes, h: _Header, path: Path) -> None:
    count, max_m = h.element_count, h.max_m
    if len(tail) % 4:
        raise CorruptIndexError(f"{path} has a ragged tail")
    words = np.frombuffer(tail, dtype="<u4")
    sizes = memoryview(tail).cast("I")
    level_bytes = 4 * (max_m + 1)
    # The byte counts are chained, so finding each element's lists is a sequential walk;
    # only about one element in M has upper levels at all.
    owners: list[int] = []
    starts: list[int] = []
    levels_of: list[int] = []
    pos = 0
    for element in range(count):
        if pos >= len(sizes):
            raise CorruptIndexError(f"{path} is truncated")
        size = sizes[pos]
        pos += 1
        if size:
            level, rest = divmod(size, level_bytes)
            if rest or level > 64:
                raise CorruptIndexError(f"{path} has a bad link list size")
            owners.append(element)
            starts.append(pos)
            levels_of.append(level)
            pos += size // 4
    if pos != len(sizes):
        raise CorruptIndexError(f"{path} has trailing bytes")
    levels = np.zeros(count, dtype=np.int64)
    levels[owners] = levels_of
    # hnswlib trusts maxlevel: an element above it makes later updates fail, and an entry
    # point below it makes searches read link lists that do not exist.
    if count and not (levels[h.entry_point] == h.max_level == levels.max()):
        raise CorruptIndexError(f"{path} has a top level its elements do not match")
    if not owners:
        return
    per_owner = np.asarray(levels_of)
    first_block = np.repeat(np.cumsum(per_owner) - per_owner, per_owner)
    block_level = np.arange(per_owner.sum()) - first_block  # 0 means level 1
    block_start = np.repeat(np.asarray(starts), per_owner) + block_level * (max_m + 1)
    blocks = words[block_start[:, None] + np.arange(max_m + 1)]
    n_links = blocks[:, 0] & 0xFFFF
    if (n_links > max_m).any():
        raise CorruptIndexError(f"{path} has an overfull link list")
    rows, cols = np.nonzero(np.arange(max_m) < n_links[:, None])
    targets = blocks[rows, cols + 1].astype(np.int64)
    if (targets >= count).any() or (levels[targets] < block_level[rows] + 1).any():
        raise CorruptIndexError(f"{path} has an upper-level link to no element")
