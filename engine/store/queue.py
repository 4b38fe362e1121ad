"""The engine's work queue in SQLite: paths to look at again, kept across crashes and restarts.

A path is queued when the watcher or a scan sees it change, and leaves the queue in the same
transaction that records its new state, so after a crash every change is either recorded or
still queued. Re-queuing a path while it is being worked on bumps its stamp, so the newer
change is not dropped when the older one finishes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.store.paths import path_from_db, path_to_db

# Lower runs first: a change the user just made, then what a scan found, then bulk re-indexing.
PRIORITY_EDIT = 0
PRIORITY_SCAN = 1
PRIORITY_BULK = 2
PRIORITY_OCR = 3  # pictures of pages, read after every text-bearing file
# Below this size a file counts as small and goes before bigger ones of the same priority.
SMALL_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class QueuedPath:
    path: str
    folder_id: int
    priority: int
    size: int
    mtime: float
    stamp: float  # queued_at when claimed; the row is dropped only if still this stamp


def enqueue(
    conn: sqlite3.Connection,
    entries: Iterable[tuple[str, int, int, float]],
    priority: int,
) -> int:
    """Queue (path, folder_id, size, mtime) entries; a path queued twice keeps one row."""
    now = time.time()
    rows = [
        (path_to_db(path), folder, priority, size, mtime, now)
        for path, folder, size, mtime in entries
    ]
    conn.executemany(
        "INSERT INTO queue(path, folder_id, priority, size, mtime, queued_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET"
        " priority = MIN(priority, excluded.priority), size = excluded.size,"
        " mtime = excluded.mtime, queued_at = MAX(queued_at + 1e-6, excluded.queued_at)",
        rows,
    )
    return len(rows)


def next_batch(
    conn: sqlite3.Connection, limit: int, skip_folders: Sequence[int] = ()
) -> list[QueuedPath]:
    """The next paths to work on: by priority, small before big, recently modified first."""
    skip = ",".join(str(int(f)) for f in skip_folders)
    where = f" WHERE folder_id NOT IN ({skip})" if skip else ""
    rows = conn.execute(
        f"SELECT path, folder_id, priority, size, mtime, queued_at FROM queue{where}"
        f" ORDER BY priority, size > {SMALL_FILE_BYTES}, mtime DESC, size LIMIT ?",
        (limit,),
    )
    return [
        QueuedPath(path_from_db(r[0]), int(r[1]), int(r[2]), int(r[3]), float(r[4]), float(r[5]))
        for r in rows
    ]


def finish(conn: sqlite3.Connection, items: Sequence[QueuedPath]) -> None:
    """Drop finished paths, unless they were queued again while being worked on."""
    conn.executemany(
        "DELETE FROM queue WHERE path = ? AND queued_at = ?",
        [(path_to_db(item.path), item.stamp) for item in items],
    )


def queue_length(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM queue").fetchone()[0])


def queued_per_folder(conn: sqlite3.Connection) -> dict[int, int]:
    rows = conn.execute("SELECT folder_id, COUNT(*) FROM queue GROUP BY folder_id")
    return {int(r[0]): int(r[1]) for r in rows}
