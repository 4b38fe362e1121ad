"""Freed memory goes back to the system when the meaning phase asks (engine/ingest/heap.py)."""

from __future__ import annotations

import os
import sys

import pytest

from engine.ingest.heap import give_back_free_memory


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_blocks_below_a_live_one_go_back() -> None:
    blocks = [bytearray(8192) for _ in range(20_000)]  # 160 MB in the heap, below `pinned`
    pinned = bytearray(8192)  # keeps the heap's top in use, so free() alone trims nothing
    del blocks
    before = _resident_mb()
    give_back_free_memory()
    assert _resident_mb() < before - 100
    del pinned
