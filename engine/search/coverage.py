"""How much of the index a semantic search can see while the meaning phase is still behind."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from engine.store import Store
from engine.store.pending_vectors import passage_count, pending_count

# Counting reads two indexes (tens of milliseconds at a million passages): at most this often.
REFRESH_SECONDS = 5.0

# The last count per database file, shared by every SemanticCoverage over it: the engine
# makes a Searcher (and so a SemanticCoverage) for each request, so a count kept only in the
# object was made again for every query.
_counted: dict[Path, tuple[float, float]] = {}  # database path: (when, share)
_lock = threading.Lock()


class SemanticCoverage:
    """The share of passages that have a vector, recounted at most every REFRESH_SECONDS."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def share(self) -> float:
        key = Path(self.store.path)
        with _lock:
            at, share = _counted.get(key, (-REFRESH_SECONDS, 1.0))
            if time.monotonic() - at < REFRESH_SECONDS:
                return share
        conn = self.store.conn
        total = passage_count(conn)
        share = 1.0 if total == 0 else (total - pending_count(conn)) / total
        with _lock:
            _counted[key] = (time.monotonic(), share)
        return share
