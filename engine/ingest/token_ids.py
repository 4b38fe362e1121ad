"""Word-piece ids the chunker found, kept for the meaning phase so no passage is tokenized twice.

The extraction child tokenizes each page to cut it into passages (engine/ingest/chunk.py), and
knows each passage's word pieces from that. The recorder writes the passage without a vector
and leaves its ids here under its chunk id; the meaning phase takes them back when it embeds
the passage, and the encoder runs on them directly (TransformerEncoder.encode_passage_ids).
Bounded: past `max_bytes` the oldest are dropped, and those passages are tokenized again.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence

# About 100k passages of 128 pieces at 2 bytes a piece: the first minutes of embedding.
MAX_BYTES = 32 * 1024 * 1024


class TokenIds:
    """Chunk id -> its word pieces (an array of ints), oldest dropped first."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._ids: OrderedDict[int, array[int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # the recorder and the encoder's batches
        self.taken = 0  # passages whose ids were reused, for statistics and tests

    def __len__(self) -> int:
        return len(self._ids)

    def put(self, chunk_ids: Sequence[int], ids: Iterable[array[int] | None]) -> None:
        with self._lock:
            for chunk_id, pieces in zip(chunk_ids, ids, strict=True):
                if pieces is None:
                    continue
                self._ids[chunk_id] = pieces
                self._bytes += pieces.itemsize * len(pieces)
            while self._bytes > self.max_bytes and self._ids:
                _, dropped = self._ids.popitem(last=False)
                self._bytes -= dropped.itemsize * len(dropped)

    def take(self, chunk_id: int) -> array[int] | None:
        with self._lock:
            pieces = self._ids.pop(chunk_id, None)
            if pieces is not None:
                self._bytes -= pieces.itemsize * len(pieces)
                self.taken += 1
            return pieces

    def forget(self, chunk_ids: Iterable[int]) -> None:
        """Passages that are gone (their file changed or left) before they were embedded."""
        with self._lock:
            for chunk_id in chunk_ids:
                pieces = self._ids.pop(chunk_id, None)
                if pieces is not None:
                    self._bytes -= pieces.itemsize * len(pieces)
