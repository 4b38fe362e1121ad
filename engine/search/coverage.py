"""How much of the index a semantic search can see while the meaning phase is still behind."""

from __future__ import annotations

import threading
import time

from engine.store import Store
from engine.store.pending_vectors import passage_count, pending_count

# Counting reads two indexes (tens of milliseconds at a million passages): at most this often.
REFRESH_SECONDS = 5.0


class SemanticCoverage:
    """The share of passages that have a vector, recounted at most every REFRESH_SECONDS."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._at = -REFRESH_SECONDS
        self._share = 1.0

    def share(self) -> float:
        with self._lock:
            if time.monotonic() - self._at >= REFRESH_SECONDS:
                conn = self.store.conn
                total = passage_count(conn)
                self._share = 1.0 if total == 0 else (total - pending_count(conn)) / total
                self._at = time.monotonic()
            return self._share
