"""Files whose picture pages OCR has not all read yet, kept in SQLite across runs and restarts.

A scanned file is read in runs of a few dozen seconds (engine/ingest/ocr_stage.py). After each
run its pages so far are indexed and it is listed here; requeue() then puts it back in the
work queue at PRIORITY_OCR, behind every text-bearing file, until its last page is read.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from engine.store import queue
from engine.store.paths import path_from_db, path_to_db


@dataclass(frozen=True)
class OcrBacklog:
    files: int
    pages_done: int
    pages_total: int


def mark(conn: sqlite3.Connection, path: str, done: int, total: int) -> None:
    conn.execute(
        "INSERT INTO ocr_pending(path, pages_done, pages_total, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(path) DO UPDATE SET pages_done = excluded.pages_done,"
        " pages_total = excluded.pages_total, updated_at = excluded.updated_at",
        (path_to_db(path), done, total, time.time()),
    )


def clear(conn: sqlite3.Connection, path: str) -> None:
    conn.execute("DELETE FROM ocr_pending WHERE path = ?", (path_to_db(path),))


def queued_priority(conn: sqlite3.Connection, path: str) -> int | None:
    """The priority `path` waits at in the work queue, or None when it is not queued."""
    row = conn.execute("SELECT priority FROM queue WHERE path = ?", (path_to_db(path),)).fetchone()
    return None if row is None else int(row[0])


def among(conn: sqlite3.Connection, paths: Sequence[str]) -> set[str]:
    """Those of `paths` with picture pages still to read."""
    found: set[str] = set()
    for start in range(0, len(paths), 500):
        part = [path_to_db(p) for p in paths[start : start + 500]]
        marks = ",".join("?" * len(part))
        found.update(path_from_db(r[0]) for r in conn.execute(
            f"SELECT path FROM ocr_pending WHERE path IN ({marks})", part))
    return found


def any_unqueued(conn: sqlite3.Connection) -> bool:
    """Whether requeue() has anything to do (a cheap read, outside any transaction)."""
    row = conn.execute(
        "SELECT 1 FROM ocr_pending WHERE path NOT IN (SELECT path FROM queue) LIMIT 1"
    ).fetchone()
    return row is not None


def requeue(conn: sqlite3.Connection) -> int:
    """Queue every pending file that is not queued already, at PRIORITY_OCR; returns how many.

    Its file row is marked changed (no hash, size -1) so the indexer reads it again rather
    than trust its unchanged size and mtime. Entries whose file is gone, or no longer
    indexed (it failed, or was skipped), are dropped.
    """
    conn.execute(
        "DELETE FROM ocr_pending WHERE path NOT IN (SELECT path FROM files WHERE state = 'indexed')"
    )
    rows = conn.execute(
        "SELECT p.path, f.folder_id FROM ocr_pending p JOIN files f ON f.path = p.path"
        " WHERE p.path NOT IN (SELECT path FROM queue)"
    ).fetchall()
    if not rows:
        return 0
    conn.executemany("UPDATE files SET hash = NULL, size = -1 WHERE path = ?",
                     [(r[0],) for r in rows])
    queue.enqueue(conn, [(path_from_db(r[0]), int(r[1]), 0, 0.0) for r in rows],
                  queue.PRIORITY_OCR)
    return len(rows)


def backlog(conn: sqlite3.Connection) -> OcrBacklog:
    row = conn.execute(
        "SELECT COUNT(*), SUM(pages_done), SUM(pages_total) FROM ocr_pending"
    ).fetchone()
    return OcrBacklog(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


def pending_paths(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    rows = conn.execute("SELECT path, pages_done, pages_total FROM ocr_pending")
    return {path_from_db(r[0]): (int(r[1]), int(r[2])) for r in rows}
