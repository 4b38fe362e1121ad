"""How a passage's vector is kept in `chunks.vector`: int8 with one scale per vector.

A unit vector of all-MiniLM-L6-v2 (384 dimensions) takes 388 bytes this way: a float32 scale,
then one signed byte per dimension (each coordinate rounded to a 127th of the vector's largest
one). float16, used before, took 768: on python3-doc 74 MB, the largest part of the data dir
after the text. The rounding moves a cosine by about 5e-4, far below the gaps between ranked
passages (BENCHMARKS.md, "vector storage"); the exact rescoring of HNSW candidates and every
other reader decode through here, and still read the float16 blobs an older index holds, told
apart by their length, so an old index needs no migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_SCALE_BYTES = 4  # one little-endian float32 before the int8 coordinates


def _int8_length(dim: int) -> int | None:
    """The int8 blob's length for `dim`; None where it would equal float16's (dim 4)."""
    length = dim + _SCALE_BYTES
    return None if length == 2 * dim else length


def encode_vectors(vectors: npt.ArrayLike) -> list[bytes]:
    """One blob per row of (n, dim) float vectors."""
    rows = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    if _int8_length(rows.shape[1]) is None:
        return [row.astype(np.float16).tobytes() for row in rows]
    peak = np.abs(rows).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype("<f4")
    codes = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8)
    return [s.tobytes() + c.tobytes() for s, c in zip(scale, codes, strict=True)]


def decode_vectors(blobs: Sequence[bytes], dim: int) -> npt.NDArray[np.float32]:
    """(n, dim) float32 unit vectors from blobs of either format, in order."""
    out = np.empty((len(blobs), dim), dtype=np.float32)
    if not blobs:
        return out
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    int8_length = _int8_length(dim)
    for length, decode in ((2 * dim, _float16_rows), (int8_length, _int8_rows)):
        if length is None:
            continue
        where = np.flatnonzero(lengths == length)
        if len(where):
            raw = b"".join(blobs[i] for i in where.tolist())
            out[where] = decode(raw, len(where), dim)
    unknown = np.flatnonzero((lengths != 2 * dim) & (lengths != (int8_length or -1)))
    if len(unknown):
        raise ValueError(
            f"a stored vector is {lengths[unknown[0]]} bytes; {dim} dimensions take "
            f"{int8_length} (int8) or {2 * dim} (float16)"
        )
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out /= np.maximum(norms, 1e-12)
    return out


def _float16_rows(raw: bytes, n: int, dim: int) -> npt.NDArray[np.float32]:
    return np.frombuffer(raw, dtype=np.float16).reshape(n, dim).astype(np.float32)


def _int8_rows(raw: bytes, n: int, dim: int) -> npt.NDArray[np.float32]:
    records = np.frombuffer(raw, dtype=np.uint8).reshape(n, dim + _SCALE_BYTES)
    scale = records[:, :_SCALE_BYTES].copy().view("<f4")  # (n, 1)
    codes = records[:, _SCALE_BYTES:].view(np.int8).astype(np.float32)
    return codes * scale  # type: ignore[no-any-return]
