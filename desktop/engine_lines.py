"""Cuts the engine's byte stream into newline-delimited lines of bounded length, so one huge or
broken reply cannot swamp the link."""

from __future__ import annotations

import json
import logging

log = logging.getLogger(__name__)


class LineSplitter:
    """Whole, non-blank lines out of bytes as they arrive; a line that grows past `limit` bytes
    before its newline is dropped, up to and including that newline."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._skipping = False  # inside an overlong line, until its newline

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_line(self) -> bytes | None:
        """The next whole line fed so far, without its newline; None until more bytes come."""
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                if len(self._buffer) > self._limit:
                    log.warning("engine link: skipping an overlong line from the engine")
                    self._buffer.clear()
                    self._skipping = True
                return None
            line = bytes(self._buffer[:newline])
            del self._buffer[: newline + 1]
            if self._skipping:
                self._skipping = False
            elif line.strip():
                return line

    def clear(self) -> None:
        """Forget what was fed: the stream it came from is gone."""
        self._buffer.clear()
        self._skipping = False


def salvage_id(line: bytes) -> int | None:
    """The id of a reply decode() refused (one too long, say), so its request can fail."""
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    request_id = raw.get("id") if isinstance(raw, dict) else None
    return request_id if type(request_id) is int else None
