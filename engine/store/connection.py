"""Opens the index database the one way Dowse does: private to its owner, deletes zeroed."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from engine.private_files import private_file
from engine.store.digest import register


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode, usable from any thread, with secure_delete on.

    The file is created 0600 before SQLite opens it, because SQLite gives the WAL and -shm
    it creates later the database file's mode. secure_delete makes SQLite overwrite deleted
    cells and freed pages with zeros; it is a setting of each connection, not of the file.
    """
    with contextlib.suppress(OSError):  # a missing folder: let SQLite say so, as before
        private_file(path)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA secure_delete = ON")
    register(conn)
    return conn
