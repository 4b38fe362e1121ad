"""When an engine started by `dowse search` has had nothing to do for long enough to leave."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

# Worker activities with nothing left to do (a failed or damaged index waits for a person).
RESTING = ("idle", "failed", "database damaged")


class IdleClock:
    """Time since the last request or hang-up; `seconds` 0 never expires (a foreground one)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = time.monotonic()

    def touch(self) -> None:
        self._last = time.monotonic()

    def expired(self, connections: int, activity: str) -> bool:
        """No client connected, no request for `seconds`, and nothing queued or embedding."""
        if self.seconds <= 0 or connections or activity not in RESTING:
            return False
        if time.monotonic() - self._last < self.seconds:
            return False
        log.info("no request for %.0f s and nothing to index: exiting", self.seconds)
        return True
