"""How a file path goes into SQLite and comes back, losslessly, even when it is not UTF-8 text.

On Linux a file name is bytes. Python hands names that are not valid UTF-8 over as str with
surrogate escapes (os.fsdecode), which SQLite cannot store as TEXT. Such a path is stored as
the BLOB of its raw bytes instead; every other path stays TEXT, so existing data dirs need no
migration. SQLite never finds a BLOB equal to a TEXT, so every query that binds a path must
convert it with path_to_db, and every path read back goes through path_from_db.
"""

from __future__ import annotations

import os

StoredPath = str | bytes


def path_to_db(path: str) -> StoredPath:
    """The value stored for `path`: the str itself if it is valid UTF-8, else its raw bytes."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return os.fsencode(path)
        except UnicodeEncodeError:
            # A surrogate no file name decodes to (sent by a client, say): stored nowhere,
            # so it simply matches nothing.
            return path.encode("utf-8", "surrogatepass")
    return path


def path_from_db(value: object) -> str:
    """The path as Python names it (surrogate-escaped where it is not UTF-8)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return os.fsdecode(bytes(value))
    return str(value)


def prefix_params(path: str) -> tuple[int, str | None, int, bytes]:
    """Parameters for "what lies under folder `path`" over both storage forms.

    Use with PREFIX_SQL: (text length, text prefix or None, byte length, byte prefix).
    """
    prefix = path.rstrip("/") + "/"
    stored = path_to_db(prefix)
    raw = stored if isinstance(stored, bytes) else os.fsencode(prefix)
    text = stored if isinstance(stored, str) else None
    return len(prefix), text, len(raw), raw


def prefix_sql(column: str) -> str:
    """A WHERE fragment true for the rows whose `column` lies under a folder (prefix_params)."""
    return (
        f"((typeof({column}) = 'text' AND substr({column}, 1, ?) = ?)"
        f" OR (typeof({column}) = 'blob' AND substr({column}, 1, ?) = ?))"
    )
