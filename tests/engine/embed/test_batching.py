"""CPU forward batches: every row once, longest first, in few shapes."""

from __future__ import annotations

import random

from engine.embed.batching import WIDTH_STEP, bucket_width, forward_batches


def test_widths_round_up_to_the_step_but_not_past_the_model_limit() -> None:
    assert bucket_width(1, 256) == WIDTH_STEP
    assert bucket_width(WIDTH_STEP, 256) == WIDTH_STEP
    assert bucket_width(WIDTH_STEP + 1, 256) == 2 * WIDTH_STEP
    assert bucket_width(250, 250) == 250  # a limit off the step is kept, not passed
    assert bucket_width(300, 256) == 300  # a row longer than the limit still fits
    assert bucket_width(17, 256, step=1) == 17  # step 1: each batch's own longest, as before


def test_batches_cover_every_row_once_longest_first_within_the_token_budget() -> None:
    rng = random.Random(7)
    lengths = [rng.randint(3, 256) for _ in range(1000)]
    batches = forward_batches(lengths, 2048, 32, 256)
    rows = [row for batch, _ in batches for row in batch]
    assert sorted(rows) == list(range(len(lengths)))
    assert [lengths[r] for r in rows] == sorted(lengths, reverse=True)
    for batch, width in batches:
        assert max(lengths[r] for r in batch) <= width < max(lengths[r] for r in batch) + 16
        assert len(batch) * width <= 2048 and len(batch) <= 32


def test_shapes_stay_few_however_many_rows_come() -> None:
    """oneDNN keeps kernels per shape: their number must not grow with the passages."""
    rng = random.Random(11)
    shapes: set[tuple[int, int]] = set()
    for _ in range(200):  # 200 calls of mixed lengths, as the indexer makes them
        lengths = [rng.randint(1, 256) for _ in range(rng.randint(1, 300))]
        shapes |= {(len(b), w) for b, w in forward_batches(lengths, 2048, 32, 256)}
    widths = {w for _, w in shapes}
    assert len(widths) <= 256 // WIDTH_STEP
    # A full batch per width, and a tail cut into powers of two.
    assert all(n & (n - 1) == 0 or n == min(32, 2048 // w) for n, w in shapes)
    assert len(shapes) <= len(widths) * 7


def test_no_rows_no_batches() -> None:
    assert forward_batches([], 2048, 32, 256) == []
