"""Cuts rows into forward batches by length, so padding and per-call overhead cost least."""

from __future__ import annotations

import math
from collections.abc import Sequence

# What one extra forward call costs, in padded tokens' worth of work: about 4 ms a call
# against 0.1 ms a token of a 256-token batch on one core of this 2-core CPU; rounded up, since
# short rows cost less a token (attention grows with length).
GROUP_OVERHEAD_TOKENS = 48


def padding_groups(lengths: Sequence[int]) -> list[list[int]]:
    """Split rows into batches by length so padding and per-call overhead cost least.

    Rows sorted by length are cut into contiguous runs, each padded to its longest row;
    an exact dynamic programme over the cut points (n is small: the explained results).
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    n = len(order)
    best = [0.0] + [math.inf] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(end):
            cost = best[start] + GROUP_OVERHEAD_TOKENS + (end - start) * lengths[order[end - 1]]
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups: list[list[int]] = []
    end = n
    while end > 0:
        groups.append(order[cut[end] : end])
        end = cut[end]
    return groups[::-1]


# A CPU batch is padded to a multiple of this many tokens. oneDNN builds (and caches) new
# kernels for every matrix shape it meets: batches padded to each one's own longest text came
# in up to 256 widths, each with its own row count, and the encoder's process grew by 249 MB
# after 1,000 SciFact passages and 410 MB after 6,000 (bench/embed_memory.py, AMX bf16), while
# spending time building kernels. Steps of 16 leave 16 widths of full batches: +52 to +59 MB,
# flat over the 6,000. Steps of 8 grew to +115 MB and still rising. The padding costs about
# 8 tokens a row, 4% of fp32's time, where kernels are cheap to build.
WIDTH_STEP = 16


def bucket_width(longest: int, limit: int, step: int = WIDTH_STEP) -> int:
    """`longest` rounded up to a multiple of `step`, but not past `limit` (the model's
    longest input) unless `longest` itself is. A step of 1 pads to `longest` alone."""
    rounded = -(-max(longest, 1) // step) * step
    return max(longest, min(rounded, limit))


def forward_batches(
    lengths: Sequence[int], tokens_per_batch: int, max_rows: int, limit: int,
    step: int = WIDTH_STEP,
) -> list[tuple[list[int], int]]:
    """Longest first: (row indices, padded width) for each forward pass, in few shapes.

    Each batch takes as many rows as fit `tokens_per_batch` at its bucketed width; the last,
    short of rows, is cut into powers of two so its row counts repeat too.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[tuple[list[int], int]] = []
    start = 0
    while start < len(order):
        width = bucket_width(lengths[order[start]], limit, step)
        size = max(1, min(max_rows, tokens_per_batch // width))
        left = len(order) - start
        if left < size:
            size = 1 << (left.bit_length() - 1)
        batches.append((order[start : start + size], width))
        start += size
    return batches
