"""Repacks the database once many passages were written, so its pages hold rows, not slack.

A passage is written in two phases (engine/ingest/meaning.py): first without its vector, then
its row grows by the vector, 388 bytes. A full page then splits, and the b-tree keeps pages
part-empty: on python3-doc 5.7 MB of the passages' 84 MB at 16 KB pages, where a VACUUM
leaves 2 MB. Each FTS5 index meanwhile is a stack of segments that automerge keeps few but
not one; merging them ('optimize') saves 0.7 MB more there and gives each term one doclist.
So once the passages written since the last repack (counted by chunk ids, which are never
reused) are a large share of the index, and their vectors are in, the save point merges the
FTS5 segments and VACUUMs: 139 MB to 134 MB in 0.9 s on python3-doc, at the end of a run
of 458 s (BENCHMARKS.md, repack). The share bounds the cost: a VACUUM rewrites the file once,
in about a second per 150 MB here, while writing a quarter of it took minutes.

A VACUUM is one transaction, so a kill leaves the database as it was. A database made with
SQLite's 4 KB pages gets PAGE_SIZE pages here, when no other connection is open: SQLite
changes the page size only in a VACUUM outside WAL mode.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

from engine.store.connection import PAGE_SIZE, set_checkpoint_interval
from engine.store.database import Store
from engine.store.disk import DiskFullError, free_bytes
from engine.store.pending_vectors import passage_count, pending_count
from engine.store.purge import fts5_tables

log = logging.getLogger(__name__)

REPACKED_KEY = "repacked_through"  # the last chunk id written before the last repack
# Repack once the passages written since are this share of those in the index...
WRITTEN_SHARE = 0.25
# ...and at least this many (below it the slack is under a megabyte).
MIN_WRITTEN = 10_000
# Passages still without a vector: their rows will grow, so wait until at most this share.
PENDING_SHARE = 0.01
# A VACUUM writes a copy of the file, and then the file again through the WAL.
FREE_SPACE_FACTOR = 2


@dataclass(frozen=True)
class RepackResult:
    bytes_before: int
    bytes_after: int
    seconds: float
    page_size: int


def repack_due(conn: sqlite3.Connection, min_written: int | None = None) -> bool:
    """Whether enough passages were written since the last repack (at least `min_written`,
    MIN_WRITTEN unless given), and have their vectors."""
    written = _last_chunk_id(conn) - int(_meta(conn) or 0)
    if written < (MIN_WRITTEN if min_written is None else min_written):
        return False
    passages = passage_count(conn)
    return written >= WRITTEN_SHARE * passages and pending_count(conn) <= PENDING_SHARE * passages


def repack_if_due(store: Store, min_written: int | None = None) -> RepackResult | None:
    """Merge each FTS5 index into one segment and VACUUM, when repack_due; None otherwise.

    Marked done even when the VACUUM fails (a full disk, the temporary folder too small), so
    it is tried again only after as many passages more, not at every save point.
    """
    conn = store.conn
    if not repack_due(conn, min_written):
        return None
    started = time.monotonic()
    before = _file_bytes(conn)
    through = _last_chunk_id(conn)
    free = free_bytes(store.path.parent)
    if free is not None and free < FREE_SPACE_FACTOR * before:
        log.warning("not repacking the index: %d MB free, it needs about %d",
                    free >> 20, FREE_SPACE_FACTOR * before >> 20)
    else:
        try:
            with store.transaction():
                for table in fts5_tables(conn):
                    conn.execute(f'INSERT INTO "{table}"("{table}") VALUES (\'optimize\')')
            _vacuum(conn)
            log.info("repacked the index: %.1f MB to %.1f MB in %.1f s", before / 1e6,
                     _file_bytes(conn) / 1e6, time.monotonic() - started)
        except (sqlite3.OperationalError, DiskFullError) as exc:  # each step rolled back whole
            log.warning("could not repack the index: %s", exc)
    with store.transaction():
        store.set_meta(REPACKED_KEY, str(through))
    # The VACUUM wrote the whole file to the WAL: cut it back (unless a reader is in it).
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    return RepackResult(before, _file_bytes(conn), time.monotonic() - started, page_size)


def _vacuum(conn: sqlite3.Connection) -> None:
    """VACUUM, with PAGE_SIZE pages if the file has smaller ones and no one else has it open
    (leaving WAL mode needs that; SQLite refuses at once otherwise, and the pages stay)."""
    if int(conn.execute("PRAGMA page_size").fetchone()[0]) >= PAGE_SIZE:
        conn.execute("VACUUM")
        return
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.OperationalError:  # another connection is open: keep the pages as they are
        conn.execute("VACUUM")
        return
    try:
        conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        conn.execute("VACUUM")  # with a rollback journal: a kill leaves the old file
    finally:
        conn.execute("PRAGMA journal_mode = WAL")  # each Store sets it again when it opens
        set_checkpoint_interval(conn)


def _last_chunk_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
    return 0 if row is None else int(row[0])


def _meta(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (REPACKED_KEY,)).fetchone()
    return None if row is None else str(row[0])


def _file_bytes(conn: sqlite3.Connection) -> int:
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    return pages * int(conn.execute("PRAGMA page_size").fetchone()[0])
