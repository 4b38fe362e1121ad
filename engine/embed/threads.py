"""Picks how many CPU threads the encoder uses, because on a busy machine fewer run faster.

torch starts one OpenMP thread per core. When another program holds a core, every parallel
region waits for the thread that lost its core: on 2 cores with one busy, 2 threads ran the
encoder 4x slower than 1. So the tuner times batches and now and then tries another count.
"""

from __future__ import annotations

import logging
import os
import threading

from threadpoolctl import threadpool_limits

log = logging.getLogger(__name__)

MIN_TOKENS = 512  # smaller batches time mostly overhead and would mislead the comparison
FIRST_INTERVAL = 4  # batches between trials right after a change
MAX_INTERVAL = 64  # trials back off to this while the choice keeps winning
MARGIN = 1.1  # a trial must beat the current choice by this factor to replace it

_pinned = threading.local()


def pin_this_thread(threads: int) -> None:
    """Encoder calls from this thread run on `threads` torch threads, untuned, and beside
    other pinned threads: the meaning phase's workers (engine/ingest/meaning.py). Two workers
    of one torch thread each embedded 11% faster on 2 cores than one worker of two, which wait
    for each other at every parallel region; unpinned callers take turns through the tuner."""
    _pinned.threads = max(1, threads)


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system has one)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def pin_share_of_cores(workers: int) -> None:
    """pin_this_thread() to this thread's share of the cores the process may run on, when
    `workers` threads share them."""
    pin_this_thread(usable_cores() // max(1, workers))


def pinned_threads() -> int | None:
    """The count pin_this_thread() set for this thread, or None."""
    threads: int | None = getattr(_pinned, "threads", None)
    return threads


class ThreadTuner:
    """Walks a ladder of thread counts (n, n/2, ..., 1) by measured tokens per second.

    Trials go one rung up or down only, so a losing trial costs little.
    """

    def __init__(self, max_threads: int) -> None:
        ladder = [max(1, max_threads)]
        while ladder[-1] > 1:
            ladder.append(ladder[-1] // 2)
        self.candidates = ladder
        self.current = ladder[0]
        self.rates: dict[int, float] = {}
        self._since = 0
        self._interval = FIRST_INTERVAL
        self._next_trial = 0
        self._trial: int | None = None

    def threads_for_next_batch(self, tokens: int) -> int:
        if tokens < MIN_TOKENS or len(self.candidates) == 1:
            return self.current
        self._since += 1
        if self._since < self._interval or self.current not in self.rates:
            return self.current
        rung = self.candidates.index(self.current)
        others = [self.candidates[i] for i in (rung - 1, rung + 1) if 0 <= i < len(self.candidates)]
        self._trial = others[self._next_trial % len(others)]
        self._next_trial += 1
        self._since = 0
        return self._trial

    def record(self, threads: int, tokens: int, seconds: float) -> None:
        if tokens < MIN_TOKENS or seconds <= 0:
            return
        rate = tokens / seconds
        if threads == self._trial:
            self._trial = None
            self.rates[threads] = rate
            if rate > self.rates.get(self.current, 0.0) * MARGIN:
                log.info(
                    "encoder threads %d -> %d (%.0f vs %.0f tokens/s)",
                    self.current, threads, rate, self.rates.get(self.current, 0.0),
                )
                self.current = threads
                self._interval = FIRST_INTERVAL
            else:
                self._interval = min(self._interval * 2, MAX_INTERVAL)
            return
        previous = self.rates.get(threads)
        self.rates[threads] = rate if previous is None else 0.5 * previous + 0.5 * rate


def limit_blas_threads() -> None:
    """Run numpy's BLAS on one thread, for the whole process.

    Its matrices here are small (a query against a passage's tokens), and OpenBLAS threads
    that spin beside torch's on 2 busy cores made one explanation 20x slower (1 ms -> 20 ms).
    """
    threadpool_limits(limits=1, user_api="blas")
