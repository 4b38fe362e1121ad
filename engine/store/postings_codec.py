"""One term's postings (ascending row ids and their weighted frequencies) as a few bytes, for
the keyword index (engine/store/keyword_index.py), decoded with a handful of numpy passes.

A term's bytes: a kind byte, then its ids, then its weights.
- Ids are gaps (the first is id + 1, so every gap is at least 1) in an escape chain: a first
  level of fixed-width values (4, 8 or 16 bits, chosen per term), where a 0 says "too large,
  next level", which holds those in order at the next width (8, 16, then 32 bits). Passages
  next to each other share their neighbour column's words, so most gaps of a common word are
  under 16: half a byte each.
- Or, for a word in a large share of the rows, a bitmap of the rows (its length first).
- Weights (at least 1) go in the same kind of chain, from 4 bits up to 16.

At a million passages this took the index from 5 bytes a posting (uint32 id, uint8 weight)
to 1.4, and decoding half a million postings costs about 2 ms. `PostingsFile` reads a
table's lists from the file and keeps the longest decoded.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# Widths in bits of each chain, from the first level a term may start at.
ID_LEVELS = (4, 8, 16, 32)
WEIGHT_LEVELS = (4, 8, 16)
BITMAP = 3  # ids kind: a bitmap instead of a chain
_DTYPES: dict[int, np.dtype[Any]] = {
    8: np.dtype(np.uint8), 16: np.dtype("<u2"), 32: np.dtype("<u4")}

# Lists of at least DECODED_MIN postings are kept decoded, up to DECODED_BYTES a table (about
# 5 bytes a posting). 200 real questions decode 108 million passage postings at 1M; a 64 MB
# least-recently-used cache of them would have held 59% (945 distinct terms). Asked once each,
# in a fresh engine (as bench/scale.py asks them), their 95th percentile in process was 47.9 to
# 49.2 ms with 128 MB against 49.6 to 54.7 with 64 (three alternated pairs; a fourth, on a
# slower hour, 51.4 against 49.3); the engine may hold up to 64 MB more a table for it.
DECODED_MIN = 10_000
DECODED_BYTES = 128 << 20


class PostingsFile:
    """A table's postings, each term's bytes (`encode`) read from the file per query with
    pread: mapped instead, every page a query touched stayed in the
    engine's RSS (400 MB after 200 queries at 1M)."""

    def __init__(self, path: Path, heap: dict[str, Any]) -> None:
        # Its own descriptor, closed with the last reference: a search still reading an index
        # that was just replaced reads the file it was opened on (the old inode), never the
        # new file at old offsets.
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        self._heap = int(heap["offset"])
        self._decoded: OrderedDict[int, tuple[npt.NDArray[Any], npt.NDArray[Any]]] = (
            OrderedDict())
        self._decoded_bytes = 0
        self._lock = threading.Lock()

    def read(self, begin: int, end: int, count: int) -> tuple[npt.NDArray[Any],
                                                               npt.NDArray[Any]]:
        """The ids and stored weights of the `count` postings at [begin, end) of the heap.

        Long lists stay decoded (uint32 ids, as the uncompressed file held them; shared, so
        read-only), the most recently used kept, up to DECODED_BYTES: the common words that
        every question has cost most to decode, and decoding is about as slow as scoring."""
        if count < DECODED_MIN:
            return self._decode(begin, end, count)
        with self._lock:
            hit = self._decoded.get(begin)
            if hit is not None:
                self._decoded.move_to_end(begin)
                return hit
        ids, weights = self._decode(begin, end, count)
        if 5 * count > DECODED_BYTES // 4:  # too long to keep: no copy either
            return ids, weights
        kept = ids.astype(np.uint32), weights
        size = kept[0].nbytes + kept[1].nbytes
        for array in kept:
            array.flags.writeable = False
        if size <= DECODED_BYTES // 4:
            with self._lock:
                if begin not in self._decoded:
                    self._decoded[begin] = kept
                    self._decoded_bytes += size
                while self._decoded_bytes > DECODED_BYTES:
                    _, (old_ids, old_weights) = self._decoded.popitem(last=False)
                    self._decoded_bytes -= old_ids.nbytes + old_weights.nbytes
        return kept

    def _decode(self, begin: int, end: int, count: int) -> tuple[npt.NDArray[Any],
                                                                  npt.NDArray[Any]]:
        blob = os.pread(self._fd, end - begin, self._heap + begin)
        if len(blob) != end - begin:
            raise OSError("the keyword index is shorter than its header says")
        return decode(blob, count)


def encode(ids: npt.NDArray[Any], weights: npt.NDArray[Any]) -> bytes:
    """`ids` ascending and distinct, below 2^32 - 1; `weights` from 1 to 65,535."""
    ids = np.asarray(ids, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.int64)
    if len(ids) != len(weights) or not len(ids):
        raise ValueError("postings need as many weights as ids, and at least one")
    if int(weights.min()) < 1 or int(weights.max()) > 0xFFFF:
        raise ValueError("a weight outside 1..65535")
    gaps = np.diff(ids, prepend=-1)
    if int(gaps.min()) < 1 or int(ids[-1]) >= (1 << 32) - 1:
        raise ValueError("ids must ascend, distinct, below 2^32 - 1")
    id_start, chain_size = _cheapest(gaps, ID_LEVELS, starts=3)
    weight_start, _ = _cheapest(weights, WEIGHT_LEVELS, starts=len(WEIGHT_LEVELS))
    bitmap_size = int(ids[-1]) // 8 + 1 + 4
    id_kind = BITMAP if bitmap_size < chain_size else id_start
    parts = [bytes([id_kind | weight_start << 2])]
    if id_kind == BITMAP:
        bits = np.zeros(int(ids[-1]) + 1, dtype=np.uint8)
        bits[ids] = 1
        packed = np.packbits(bits, bitorder="little")
        parts += [len(packed).to_bytes(4, "little"), packed.tobytes()]
    else:
        parts.append(_chain(gaps, ID_LEVELS[id_start:]))
    parts.append(_chain(weights, WEIGHT_LEVELS[weight_start:]))
    return b"".join(parts)


def decode(blob: bytes, count: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """The ids and weights of one term's `count` postings, from `encode`'s bytes."""
    if not blob:
        raise ValueError("empty postings")
    buffer = memoryview(blob)
    kind = blob[0]
    id_kind, weight_start = kind & 3, kind >> 2
    if weight_start >= len(WEIGHT_LEVELS):
        raise ValueError("an unknown postings kind")
    if id_kind == BITMAP:
        size = int.from_bytes(buffer[1:5], "little")
        bits = np.unpackbits(np.frombuffer(buffer, np.uint8, size, 5), bitorder="little")
        ids = np.flatnonzero(bits.view(np.bool_)).astype(np.int64, copy=False)
        position = 5 + size
    else:
        gaps, position = _unchain(buffer, 1, count, ID_LEVELS[id_kind:], np.int64)
        # In place: a new array of half a million ids costs its page faults again (numpy's
        # cumsum into a fresh int64 array took 3.7 ms there, in place 1.4).
        ids = np.cumsum(gaps, out=gaps)
        ids -= 1
    weights, position = _unchain(buffer, position, count, WEIGHT_LEVELS[weight_start:])
    if len(ids) != count or position != len(blob):
        raise ValueError("postings that do not match their count")
    return ids, weights


def _chain_size(values: npt.NDArray[np.int64], levels: tuple[int, ...]) -> int:
    size, count = 0, len(values)
    for i, bits in enumerate(levels):
        size += (count * bits + 7) // 8
        if i + 1 < len(levels):
            count = int(np.count_nonzero(values >= 1 << bits))
    return size


def _cheapest(values: npt.NDArray[np.int64], levels: tuple[int, ...],
              starts: int) -> tuple[int, int]:
    """Of the chains starting at one of the first `starts` levels, the smallest's start and
    its size in bytes."""
    sizes = [_chain_size(values, levels[i:]) for i in range(starts)]
    smallest = min(sizes)
    return sizes.index(smallest), smallest


def _chain(values: npt.NDArray[np.int64], levels: tuple[int, ...]) -> bytes:
    out = []
    for i, bits in enumerate(levels):
        last = i + 1 == len(levels)
        if not last:
            stored = np.where(values < 1 << bits, values, 0)
        else:
            stored = values
        out.append(_pack(stored, bits))
        if last:
            break
        values = values[values >= 1 << bits]
        if not len(values):
            break
    return b"".join(out)


def _pack(values: npt.NDArray[np.int64], bits: int) -> bytes:
    if bits == 4:
        padded = np.zeros(len(values) + len(values) % 2, dtype=np.uint8)
        padded[: len(values)] = values
        return (padded[0::2] | (padded[1::2] << 4)).tobytes()
    return values.astype(_DTYPES[bits]).tobytes()


def _unchain(buffer: memoryview, position: int, count: int, levels: tuple[int, ...],
             dtype: type[np.integer[Any]] | None = None) -> tuple[npt.NDArray[Any], int]:
    """Decode `count` values of a chain at `position`; the values (as `dtype`, else as the
    narrowest type that holds them) and the position after."""
    bits = levels[0]
    if bits == 4:
        size = (count + 1) // 2
        packed = np.frombuffer(buffer, np.uint8, size, position)
        values: npt.NDArray[Any] = np.empty(2 * size, dtype=np.uint8)
        np.bitwise_and(packed, 15, out=values[0::2])
        np.right_shift(packed, 4, out=values[1::2])
        values = values[:count]
    else:
        size = count * bits // 8
        values = np.frombuffer(buffer, _DTYPES[bits], count, position)
    position += size
    escaped = values == 0 if len(levels) > 1 else None
    if escaped is not None and escaped.any():
        # Widened only when some value needs it: most lists of a common word do not.
        values = values.astype(dtype or _DTYPES[levels[-1]])
        at = np.flatnonzero(escaped)
        values[at], position = _unchain(buffer, position, len(at), levels[1:])
    elif dtype is not None:
        values = values.astype(dtype)
    return values, position
