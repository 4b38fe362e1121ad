"""Why the engine's one writer is not writing: a full disk it waits out, or a damaged database.

Status reports it under `problem` (None while all is well), so `dowse status` and the app can
say why indexing stopped and what brings it back.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.serve.writer_thread import Inbox
from engine.store.database import DB_FILE_NAME
from engine.store.disk import describe_free, free_bytes, is_disk_full
from engine.store.integrity import DatabaseCorruptError, quick_check

log = logging.getLogger(__name__)

DISK_FULL = "disk_full"
DATABASE_CORRUPT = "database_corrupt"
# After a full disk, the writer tries again once this much more space is free than when it
# failed, or after RETRY_ANYWAY_SECONDS in any case (quotas and network file systems can
# report free space that does not match what a write may use).
SPACE_MARGIN_BYTES = 1 << 20
RETRY_ANYWAY_SECONDS = 60.0
SPACE_POLL_SECONDS = 2.0
BUSY_RETRY_SECONDS = 5.0
REBUILD_HINT = (
    "Rebuild the index (the app offers it; or `dowse doctor --repair`): the damaged file is "
    "kept aside, and the pinned folders and settings stay."
)


@dataclass(frozen=True)
class Problem:
    kind: str  # disk_full | database_corrupt
    message: str  # for people: what happened and what brings indexing back
    since: float  # time.time() when it was first seen

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "since": self.since}


class WriterHealth:
    """The writer's current problem, read by status on other threads."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._problem: Problem | None = None
        self._free_at_failure: int | None = None
        self._failed_at = 0.0
        self._damage = ""  # what quick_check or SQLite said

    @property
    def problem(self) -> Problem | None:
        with self._lock:
            return self._problem

    @property
    def damaged(self) -> bool:
        problem = self.problem
        return problem is not None and problem.kind == DATABASE_CORRUPT

    def report_disk_full(self) -> Problem:
        message = (
            f"Indexing paused: the disk holding {self.data_dir} is full "
            f"({describe_free(self.data_dir)}). Nothing indexed so far is lost, and indexing "
            "goes on by itself once there is space."
        )
        with self._lock:
            since = self._problem.since if self._problem is not None else time.time()
            self._problem = Problem(DISK_FULL, message, since)
            self._free_at_failure = free_bytes(self.data_dir)
            self._failed_at = time.monotonic()
            return self._problem

    def space_returned(self) -> bool:
        """Whether to try writing again: enough room came back, or it is time to try anyway."""
        with self._lock:
            baseline, failed_at = self._free_at_failure, self._failed_at
        if time.monotonic() - failed_at > RETRY_ANYWAY_SECONDS:
            return True
        free = free_bytes(self.data_dir)
        return free is None or baseline is None or free >= baseline + SPACE_MARGIN_BYTES

    def report_damage(self, detail: str) -> Problem:
        message = (
            f"The index database is damaged ({detail}). Searches may miss files and nothing "
            "new is indexed. Rebuild the index: the damaged file is kept aside, and your "
            "pinned folders and settings stay as they are."
        )
        with self._lock:
            if self._problem is None or self._problem.kind != DATABASE_CORRUPT:
                self._problem = Problem(DATABASE_CORRUPT, message, time.time())
                self._damage = detail
            return self._problem

    def refusal(self) -> DatabaseCorruptError:
        """The answer to a command while the database is damaged: it is not written to."""
        with self._lock:
            return DatabaseCorruptError(self.data_dir / DB_FILE_NAME, self._damage)

    def clear(self) -> None:
        with self._lock:
            if self._problem is not None and self._problem.kind == DISK_FULL:
                self._problem = None


def check_database(conn: sqlite3.Connection, health: WriterHealth) -> bool:
    """quick_check before the first write; True when sound. It reads the whole file (seconds
    on a large index), so the writer runs it while searches are already answered."""
    started = time.monotonic()
    damage = quick_check(conn)
    log.info("quick_check: %s in %.2f s", damage or "ok", time.monotonic() - started)
    if damage is not None:
        health.report_damage(damage)
    return damage is None


def _for(seconds: float) -> Callable[[], bool]:
    until = time.monotonic() + seconds
    return lambda: time.monotonic() < until


def is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "database is locked" in str(exc) or "database is busy" in str(exc)
    )


def work_through_full_disks(
    work: Callable[[], None], health: WriterHealth, inbox: Inbox, pausing: Callable[[], None]
) -> None:
    """Run `work`; on a full disk wait, taking commands, until there may be space, then run
    it again (it starts with a scan of every folder, which finds the changes not queued)."""
    while True:
        try:
            return work()
        except Exception as exc:
            if is_busy(exc):
                # Another process held the database past busy_timeout (a backup tool, a
                # second reader checkpointing): transient, so wait and go on, never give up.
                log.warning("the index database stayed locked; indexing goes on shortly")
                inbox.idle_while(_for(BUSY_RETRY_SECONDS), SPACE_POLL_SECONDS)
                if inbox.stopping:
                    return
                continue
            if not is_disk_full(exc):
                raise
        log.warning("%s", health.report_disk_full().message)
        pausing()
        inbox.idle_while(lambda: not health.space_returned(), SPACE_POLL_SECONDS)
        health.clear()
        if inbox.stopping:
            return
        log.info("there may be space again in %s: indexing goes on", health.data_dir)
