"""Free memory handed back to the system: glibc keeps what a process frees mapped for reuse.

The meaning phase frees each batch's activations (tens of MB) and allocates the next
batch's in other sizes and places, so the freed pages pile up: python3-doc's `dowse index`
grew about 140 MB through its meaning phase beyond what the vector graph takes, and peaked
47 MB lower when each batch's free pages went back (malloc_trim). Elsewhere a no-op.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)


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
