"""The process's allocator (glibc's, where it is): fewer arenas, and free memory handed back.

glibc keeps what a process frees mapped for reuse. The meaning phase frees each batch's
activations (tens of MB) and allocates the next batch's in other sizes and places, so the
freed pages pile up: python3-doc's `dowse index` grew about 140 MB through its meaning phase
beyond what the vector graph takes, and peaked 47 MB lower when each batch's free pages went
back (malloc_trim). Elsewhere these are no-ops.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # glibc's mallopt parameter


@functools.cache
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        log.debug("no glibc: freed memory stays with the allocator")
        return None


def give_back_free_memory() -> None:
    """Return the allocator's free pages to the system (glibc's malloc_trim)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas for this process. The read-ahead threads unpickle whole
    documents (tens of MB for a large file) in their own arenas, and memory freed later by
    another thread stays in them: with one arena per thread, a few large files could leave
    the indexing process holding gigabytes it no longer uses (engine/ingest/read_pool.py)."""
    libc = _libc()
    if libc is not None:
        try:
            libc.mallopt(_M_ARENA_MAX, 2)
        except AttributeError:
            log.debug("cannot cap malloc arenas")
