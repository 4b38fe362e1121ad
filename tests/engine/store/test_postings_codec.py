"""The keyword index's postings bytes: every kind round-trips exactly, and bad bytes are
refused rather than read as other ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.store import postings_codec
from engine.store.postings_codec import BITMAP, PostingsFile, decode, encode


def _round_trip(ids: np.ndarray, weights: np.ndarray) -> bytes:
    blob = encode(ids, weights)
    got_ids, got_weights = decode(blob, len(ids))
    assert got_ids.tolist() == np.asarray(ids).tolist()
    assert got_weights.tolist() == np.asarray(weights).tolist()
    return blob


@pytest.mark.parametrize("seed", range(5))
def test_random_lists_of_every_density_round_trip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for count, span in [(1, 10), (3, 1 << 32), (200, 400), (5_000, 1_000_000),
                        (50_000, 100_000), (2_000, 1 << 31)]:
        ids = np.sort(rng.choice(span, size=count, replace=False))
        weights = np.minimum(rng.geometric(0.3, size=count), 0xFFFF)
        _round_trip(ids, weights)


def test_the_extremes_of_ids_and_weights() -> None:
    _round_trip(np.array([0]), np.array([1]))
    _round_trip(np.array([(1 << 32) - 2]), np.array([0xFFFF]))
    _round_trip(np.array([0, 15, 16, 255, 256, 65_535, 65_536, (1 << 32) - 2]),
                np.array([1, 15, 16, 255, 256, 4_000, 65_535, 2]))


def test_runs_of_neighbours_cost_half_a_byte_a_gap() -> None:
    ids = np.arange(10_000, 20_000)
    blob = _round_trip(ids, np.ones(len(ids), dtype=np.int64))
    assert len(blob) <= 1 + len(ids)  # half a byte an id, half a byte a weight


def test_a_word_in_most_rows_is_a_bitmap() -> None:
    rng = np.random.default_rng(1)
    ids = np.flatnonzero(rng.random(100_000) < 0.5)
    blob = _round_trip(ids, np.full(len(ids), 3))
    assert blob[0] & 3 == BITMAP
    assert len(blob) < 100_000 // 8 + len(ids) // 2 + 16


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        encode(np.array([3, 3]), np.array([1, 1]))  # not distinct
    with pytest.raises(ValueError):
        encode(np.array([5, 4]), np.array([1, 1]))  # not ascending
    with pytest.raises(ValueError):
        encode(np.array([1]), np.array([0]))
    with pytest.raises(ValueError):
        encode(np.array([(1 << 32) - 1]), np.array([1]))  # its gap needs 33 bits
    with pytest.raises(ValueError):
        encode(np.array([], dtype=np.int64), np.array([], dtype=np.int64))


def test_damaged_bytes_are_an_error_not_other_postings() -> None:
    ids = np.array([2, 40, 41, 42, 900, 70_000])
    blob = encode(ids, np.array([1, 2, 30, 1, 300, 1]))
    with pytest.raises(ValueError):
        decode(blob[:-1], len(ids))  # cut short
    with pytest.raises(ValueError):
        decode(blob + b"\0", len(ids))  # trailing bytes
    with pytest.raises(ValueError):
        decode(bytes([0xFC]) + blob[1:], len(ids))  # an unknown kind
    with pytest.raises(ValueError):
        decode(b"", 1)


def _heap_file(tmp_path: Path, lists: list[tuple[np.ndarray, np.ndarray]]) -> tuple[
        PostingsFile, list[tuple[int, int, int]]]:
    """A file of encoded lists after a few bytes of something else, as the index lays them."""
    path = tmp_path / "heap"
    spans, data = [], bytearray(b"head")
    for ids, weights in lists:
        blob = encode(ids, weights)
        spans.append((len(data) - 4, len(data) - 4 + len(blob), len(ids)))
        data += blob
    path.write_bytes(bytes(data))
    return PostingsFile(path, {"offset": 4}), spans


def test_long_lists_stay_decoded_within_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(4)
    sizes = (20_000, 20_000, 20_000, 20_000, 20_000, 100)
    lists = [(np.sort(rng.choice(200_000, size=n, replace=False)),
              rng.integers(1, 15, size=n)) for n in sizes]
    # 100 KB a long list decoded (uint32 ids, uint8 weights): room for four of the five.
    monkeypatch.setattr(postings_codec, "DECODED_BYTES", 450_000)
    postings, spans = _heap_file(tmp_path, lists)
    for (ids, weights), span in zip(lists, spans, strict=True):
        got_ids, got_weights = postings.read(*span)
        assert got_ids.tolist() == ids.tolist() and got_weights.tolist() == weights.tolist()
        if len(ids) >= postings_codec.DECODED_MIN:  # kept: no caller may change them
            assert not got_ids.flags.writeable and not got_weights.flags.writeable
    assert postings.read(*spans[4])[0] is postings.read(*spans[4])[0]  # kept
    assert postings.read(*spans[5])[0] is not postings.read(*spans[5])[0]  # short: not kept
    assert postings._decoded_bytes <= postings_codec.DECODED_BYTES
    assert spans[0][0] not in postings._decoded  # the least recently used went first
    assert postings.read(*spans[0])[0].tolist() == lists[0][0].tolist()
