"""What the command line says when the data dir itself is at fault, in place of a traceback.

Four faults are known: a damaged database, a full disk, and a data dir that is read-only or
cannot be created. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from engine.store.disk import describe_free, is_disk_full
from engine.store.integrity import DatabaseCorruptError, is_corruption

REPAIR_HINT = (
    "Run `dowse doctor --repair` to set the damaged file aside and rebuild the index; your "
    "pinned folders and settings are kept."
)
# SQLite's words when it cannot open or create the database file, or may not write it.
_CANNOT_OPEN = ("unable to open database file", "readonly database")


def describe_fault(exc: BaseException, data_dir: Path) -> tuple[str, int] | None:
    """(what to tell the user, exit status) for a known data-dir fault, or None for a bug."""
    if is_corruption(exc):
        what = exc if isinstance(exc, DatabaseCorruptError) else (
            f"the index database in {data_dir} is damaged ({exc})"
        )
        return f"{what}. {REPAIR_HINT}", 2
    if is_disk_full(exc):
        return (
            f"the disk holding {data_dir} is full ({describe_free(data_dir)}). Dowse stopped; "
            "what it indexed so far is kept and nothing is damaged. Free some space and run "
            "the same command again to go on.", 1
        )
    unusable = (
        isinstance(exc, sqlite3.OperationalError) and any(w in str(exc) for w in _CANNOT_OPEN)
    ) or (isinstance(exc, OSError) and _touches(exc, data_dir))
    if not unusable:
        return None
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else (
        _why_unwritable(data_dir) or str(exc)
    )
    return (
        f"cannot use the data dir {data_dir}: {reason}. Dowse keeps its index there; make it "
        "writable, or choose another folder with --data-dir or $DOWSE_DATA_DIR.", 2
    )


def _why_unwritable(data_dir: Path) -> str | None:
    """What SQLite's "unable to open database file" means here, where it can be told."""
    try:
        stats = os.statvfs(data_dir)
    except OSError as exc:
        return exc.strerror
    if stats.f_flag & os.ST_RDONLY:
        return "it is on a read-only file system"
    if not os.access(data_dir, os.W_OK | os.X_OK):
        return "it is not writable by this user"
    return None


def _touches(exc: OSError, data_dir: Path) -> bool:
    """Whether the error is about the data dir, something in it, or a folder above it."""
    for name in (exc.filename, exc.filename2):
        if name is None:
            continue
        path = os.path.abspath(os.fsdecode(name))
        root = str(data_dir)
        if path == root or path.startswith(root + os.sep) or root.startswith(path + os.sep):
            return True
    return False
