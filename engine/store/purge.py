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
engine/store/schema.py migration 5); the purge clears the flag once it has all held. The text
itself is only in `chunks`: neither FTS5 table keeps a copy (migrations 7 and 9).

Freed pages are zeroed but stay in the file; when they are a large part of it (a forgotten
folder, or migration 9 dropping the old copies of the text) the purge gives them back to the
disk with VACUUM.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from engine.store.database import Store

log = logging.getLogger(__name__)

PENDING_KEY = "purge_pending"
# VACUUM rewrites the whole file (through the WAL, so it needs about its size free, twice),
# so only when the free pages are worth it: a quarter of the file and at least 16 MB.
RECLAIM_SHARE = 0.25
RECLAIM_MIN_BYTES = 16 << 20


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
    reclaim_free_pages(store.conn)
    return PurgeResult(True, time.monotonic() - started)


def reclaim_free_pages(conn: sqlite3.Connection, min_bytes: int = RECLAIM_MIN_BYTES) -> int:
    """VACUUM when free pages are at least RECLAIM_SHARE of the file and `min_bytes`; returns
    the bytes given back (0 when it was not worth it, or the disk had no room for it)."""
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    if free * page_size < min_bytes or free < RECLAIM_SHARE * pages:
        return 0
    try:
        conn.execute("VACUUM")
    except sqlite3.OperationalError as exc:  # a full disk, or a reader in the way
        log.warning("could not give %d free MB back to the disk: %s", free * page_size >> 20, exc)
        return 0
    truncate_wal(conn)
    after = int(conn.execute("PRAGMA page_count").fetchone()[0])
    return (pages - after) * page_size


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
