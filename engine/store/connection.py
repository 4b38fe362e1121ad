"""Opens the index database the one way Dowse does: private to its owner, deletes zeroed."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from engine.private_files import private_file
from engine.store.digest import register

# The page size of a database Dowse creates. A passage's row is about 800 bytes once its
# vector is in (the text and the int8 vector, 370 and 388 bytes on python3-doc), and a page
# holds only whole rows: at SQLite's default 4 KB the passages' pages stay a tenth empty
# even after a VACUUM (8.8 MB of 87 on python3-doc), at 16 KB 2.1 MB. 32 KB saves 0.6 MB
# more but reads twice the bytes for each passage a search fetches (BENCHMARKS.md, repack).
# An existing database keeps its page size until it is repacked (engine/store/repack.py):
# in WAL mode SQLite changes it only in a VACUUM outside WAL.
PAGE_SIZE = 16384
# Commits checkpoint the WAL once it holds this many bytes of pages (SQLite's default is
# 1,000 pages, 4 MB at 4 KB pages), so larger pages do not make a larger WAL.
WAL_CHECKPOINT_BYTES = 4 << 20
# Once a checkpoint has emptied it, the WAL file is cut back to this size: a VACUUM or a big
# transaction (a migration, a purge) while a reader held the WAL otherwise left it as large
# as what it wrote, for as long as the engine ran.
WAL_KEPT_BYTES = 2 * WAL_CHECKPOINT_BYTES


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode, usable from any thread, with secure_delete on.

    The file is created 0600 before SQLite opens it, because SQLite gives the WAL and -shm
    it creates later the database file's mode. secure_delete makes SQLite overwrite deleted
    cells and freed pages with zeros; it is a setting of each connection, not of the file.
    The page size takes effect only if the database is still empty (a new one).
    """
    with contextlib.suppress(OSError):  # a missing folder: let SQLite say so, as before
        private_file(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA secure_delete = ON")
    set_checkpoint_interval(conn)
    register(conn)
    return conn


def set_checkpoint_interval(conn: sqlite3.Connection) -> None:
    """Checkpoint every WAL_CHECKPOINT_BYTES of pages, whatever the file's page size, and
    keep at most WAL_KEPT_BYTES of WAL file once it is checkpointed."""
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.execute(f"PRAGMA wal_autocheckpoint = {max(1, WAL_CHECKPOINT_BYTES // page_size)}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")
