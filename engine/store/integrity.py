"""Damage to the index database: found at open (PRAGMA quick_check), set aside, never deleted.

SQLite keeps no checksums, so quick_check finds damage to the file's structure (its b-tree
pages, their headers, cell pointers and free lists) but not a flipped byte inside a passage's
text. A damaged file is renamed, with its WAL, to `dowse.sqlite3.corrupt-<timestamp>`; the
pinned folders are read back from it where they can be, and from a copy of the list kept
beside it (`pinned-folders.json`), which survives damage that SQLite cannot read past.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path

from engine.private_files import write_private_text

log = logging.getLogger(__name__)

FOLDER_LIST_FILE = "pinned-folders.json"
CORRUPT_SUFFIX = ".corrupt-"
_SIDE_FILES = ("-wal", "-shm")  # the WAL belongs with its database; -shm is only an index
_CORRUPT_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
QUICK_CHECK_ROWS = 5  # problems quick_check lists before it stops; one is enough to know


class DatabaseCorruptError(RuntimeError):
    """The index database is damaged: SQLite cannot read part of it."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"the index database {path} is damaged ({detail})")
        self.path = path
        self.detail = detail


def is_corruption(exc: BaseException) -> bool:
    """Whether an error says the database file is damaged (not busy, not full, not locked)."""
    if isinstance(exc, DatabaseCorruptError):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _CORRUPT_CODES:
        return True
    text = str(exc)
    return "malformed" in text or "not a database" in text


def quick_check(conn: sqlite3.Connection) -> str | None:
    """What PRAGMA quick_check finds wrong, or None when the file is sound.

    It reads every page once (O(size), no index-content cross-check, unlike integrity_check).
    """
    try:
        rows = conn.execute(f"PRAGMA quick_check({QUICK_CHECK_ROWS})").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_corruption(exc):
            return str(exc)
        raise
    found = [line.strip() for r in rows for line in str(r[0]).splitlines() if line.strip()]
    return None if found == ["ok"] else "; ".join(found)


def check_file(path: Path) -> str | None:
    """quick_check on a database file by path; None when sound or absent. Writes nothing."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    try:
        return quick_check(conn)
    finally:
        conn.close()


def set_aside(db_path: Path) -> Path:
    """Rename a damaged database, and its WAL, out of the way; returns the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db_path.with_name(f"{db_path.name}{CORRUPT_SUFFIX}{stamp}")
    number = 1
    while target.exists():
        target = db_path.with_name(f"{db_path.name}{CORRUPT_SUFFIX}{stamp}-{number}")
        number += 1
    for suffix in ("", *_SIDE_FILES):
        source = Path(str(db_path) + suffix)
        if source.exists():
            os.replace(source, Path(str(target) + suffix))
    log.info("set the damaged index database aside as %s", target)
    return target


def salvage_folders(path: Path) -> list[str]:
    """The pinned folders a damaged database still yields; [] when it yields none."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        rows = conn.execute("SELECT path FROM folders ORDER BY id").fetchall()
        # A name that is not UTF-8 is stored as the BLOB of its bytes (engine.store.paths).
        return [os.fsdecode(bytes(r[0])) if isinstance(r[0], bytes) else str(r[0]) for r in rows]
    except sqlite3.Error as exc:
        log.warning("no pinned folders could be read from %s: %s", path, exc)
        return []
    finally:
        conn.close()


def save_folder_list(data_dir: Path, paths: list[str]) -> None:
    """Keep a plain copy of the pinned folders beside the database, for a rebuild."""
    target = data_dir / FOLDER_LIST_FILE
    temp = target.with_name(target.name + ".tmp")
    try:
        # ASCII JSON: a name that is not valid UTF-8 round-trips as its surrogate escapes.
        write_private_text(temp, json.dumps(paths), encoding="ascii")
        os.replace(temp, target)
    except OSError as exc:  # a full disk, say: the database itself still has the list
        log.warning("could not save the copy of the pinned folders in %s: %s", target, exc)
        with contextlib.suppress(OSError):
            temp.unlink()


def load_folder_list(data_dir: Path) -> list[str]:
    try:
        raw = json.loads((data_dir / FOLDER_LIST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [p for p in raw if isinstance(p, str)] if isinstance(raw, list) else []
