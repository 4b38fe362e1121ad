"""Vectors as `chunks.vector` keeps them: int8 with a scale, and an old index's float16."""

from __future__ import annotations

import numpy as np
import pytest

from engine.store.vector_blobs import decode_vectors, encode_vectors


def _unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_int8_blobs_are_half_of_float16_and_keep_cosines() -> None:
    vectors = _unit(200, 384)
    blobs = encode_vectors(vectors)
    assert {len(b) for b in blobs} == {388}
    back = decode_vectors(blobs, 384)
    assert np.allclose(np.linalg.norm(back, axis=1), 1, atol=1e-5)
    assert float((back * vectors).sum(1).min()) > 0.9999
    # Ranking by the decoded vectors: scores move by far less than a typical gap.
    queries = _unit(20, 384, seed=1)
    assert np.abs(queries @ back.T - queries @ vectors.T).max() < 2e-3


def test_an_old_index_float16_blobs_read_alongside_new_ones() -> None:
    vectors = _unit(6, 384)
    old = [v.astype(np.float16).tobytes() for v in vectors[:3]]
    mixed = [old[0], *encode_vectors(vectors[3:]), old[1], old[2]]
    back = decode_vectors(mixed, 384)
    order = [0, 3, 4, 5, 1, 2]
    assert float((back * vectors[order]).sum(1).min()) > 0.9999


def test_zero_and_tiny_dimensions() -> None:
    zero = encode_vectors(np.zeros((1, 16)))
    assert np.all(decode_vectors(zero, 16) == 0)
    four = _unit(3, 4)  # int8 + scale would be as long as float16: float16 is kept
    blobs = encode_vectors(four)
    assert {len(b) for b in blobs} == {8}
    assert np.allclose(decode_vectors(blobs, 4), four, atol=1e-3)
    assert decode_vectors([], 384).shape == (0, 384)


def test_a_blob_of_another_length_is_an_error_not_garbage() -> None:
    with pytest.raises(ValueError, match="bytes"):
        decode_vectors([b"\x00" * 100], 384)
