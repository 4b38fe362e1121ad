"""A data dir that cannot take more writes for want of space: a full disk, or a quota.

SQLite reports a full disk as SQLITE_FULL, the OS as ENOSPC or EDQUOT; either way the write
that failed was rolled back whole, so the index is as it was before it. Callers pause and try
again once there is room, rather than record a file as failed.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(OSError):
    """A write to the data dir failed for want of space; nothing was half-written."""

    def __init__(self, detail: str) -> None:
        super().__init__(errno.ENOSPC, detail)

    @classmethod
    def at(cls, where: Path) -> DiskFullError:
        return cls(f"the disk holding {where} is full ({describe_free(where)})")


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in _FULL_ERRNOS
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF == sqlite3.SQLITE_FULL
        return "database or disk is full" in str(exc)
    return False


def free_bytes(path: Path) -> int | None:
    """Bytes this user may still write on the file system holding `path`; None if unknown."""
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def describe_free(path: Path) -> str:
    free = free_bytes(path)
    return "free space unknown" if free is None else f"{free / 1e6:.1f} MB free"
