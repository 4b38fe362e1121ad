"""Makes removed rows unrecoverable from the database file and its WAL, not only unsearchable.

Deleting a row hides it from queries, but its bytes stay behind in three places:
- the pages SQLite freed or rewrote, unless `PRAGMA secure_delete` is on (every Store
  connection sets it, so a deleted cell and a freed page are zeroed as they are written);
- each FTS5 index (passages, whole files), which records a deletion as a tombstone in a
  new segment and keeps the deleted terms, with their row ids, in the old segments until
  all of them are merged into one ('optimize'; SQLite 3.42's 'secure-delete' option would
  avoid that, but Dowse runs on older SQLite);
- the WAL, which holds every page image written since the last checkpoint, and the main
  file's pages until a checkpoint copies the zeroed pages over them.
A purge therefore merges each FTS5 table's segments, checkpoints the WAL into the database and
truncates it to zero bytes. Deletions flag a purge as due in the same transaction (triggers,
engine/store/schema.py migration 5); the purge clears the flag once it has all held.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from engine.store.database import Store

log = logging.getLogger(__name__)

PENDING_KEY = "purge_pending"


@dataclass(frozen=True)
class PurgeResult:
    done: bool  # False: a reader kept the WAL from being truncated; the purge stays due
    seconds: float


def purge_pending(store: Store) -> bool:
    """Whether something was removed since the last complete purge."""
    return store.get_meta(PENDING_KEY) is not None


def purge_database(store: Store) -> PurgeResult:
    """Merge away deleted FTS5 terms, then checkpoint and truncate the WAL.

    Costs a rewrite of every FTS5 index: about four times its size in writes (the new
    segments and the zeroed old ones, to the WAL, then both again to the database; see
    BENCHMARKS.md, purge), so callers batch removals and purge at their save points.
    """
    started = time.monotonic()
    with store.transaction() as conn:
        for table in fts5_tables(conn):  # chunks_fts (passages), files_fts (whole files)
            conn.execute(f'INSERT INTO "{table}"("{table}") VALUES (\'optimize\')')
        conn.execute("DELETE FROM meta WHERE key = ?", (PENDING_KEY,))
    if not truncate_wal(store.conn):
        with store.transaction():
            store.set_meta(PENDING_KEY, "1")  # retried at the next save point
        return PurgeResult(False, time.monotonic() - started)
    return PurgeResult(True, time.monotonic() - started)


def fts5_tables(conn: sqlite3.Connection) -> list[str]:
    """Every FTS5 table: each keeps the terms of what was deleted until it is optimized."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        " AND lower(sql) LIKE 'create virtual table%using fts5%'"
    )
    return [str(r[0]) for r in rows]


def truncate_wal(conn: sqlite3.Connection) -> bool:
    """Copy every WAL frame into the database and cut the WAL to zero bytes; False when a
    reader still needed old frames (the busy timeout ran out)."""
    busy, _frames, _copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.warning("the index's WAL is still in use; the purge is tried again later")
    return not busy
