"""What a search may return (folders, suffixes, dates), as SQL that an index can answer.

A folder is a range of paths: everything from `folder/` up to `folder0` ('0' follows '/'),
so `files.path`'s unique index finds a folder's files without reading the others. The
passages they hold are few runs of chunk ids (a folder is indexed file after file), and the
keyword side scans only those runs of the full-text index (engine/store/keyword.py).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from engine.store.paths import path_to_db

# Runs of allowed chunk ids a filtered keyword search scans one by one, at most: each run is
# one FTS5 query, and each query reads the query terms' document frequencies again.
MAX_RUNS = 4
# The runs are used only while they cover at most this share of the passages; past it one
# scan of every match (joined to its file) costs no more.
RUN_SHARE = 0.5
# A gap narrower than this is scanned rather than split at: one query more reads every query
# term's document frequency again, which costs more than passing over so few passages.
MIN_GAP = 1_000


@dataclass(frozen=True)
class SearchFilters:
    folders: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()  # ".pdf", ".md", … (case-insensitive)
    modified_after: float | None = None  # unix time
    modified_before: float | None = None

    def sql(self) -> tuple[str, tuple[object, ...]]:
        """A WHERE fragment over the `files` row `f`, and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        if self.folders:
            parts = []
            for folder in self.folders:
                fragment, values = folder_sql(folder)
                parts.append(fragment)
                params.extend(values)
            clauses.append("(" + " OR ".join(parts) + ")")
        if self.suffixes:
            parts = []
            for suffix in self.suffixes:
                suffix = "." + suffix.lower().lstrip(".")
                parts.append("lower(f.path) LIKE ? ESCAPE '\\'")
                params.append("%" + suffix.replace("\\", "\\\\").replace("%", "\\%")
                              .replace("_", "\\_"))
            clauses.append("(" + " OR ".join(parts) + ")")
        if self.modified_after is not None:
            clauses.append("f.mtime >= ?")
            params.append(self.modified_after)
        if self.modified_before is not None:
            clauses.append("f.mtime <= ?")
            params.append(self.modified_before)
        return " AND ".join(clauses), tuple(params)


def folder_sql(folder: str) -> tuple[str, list[object]]:
    """`f.path` is the folder itself or lies under it, as index ranges over both of the ways
    a path is stored (engine/store/paths.py: TEXT, or the raw bytes of a name that is not
    UTF-8). SQLite orders every TEXT before every BLOB, so neither range holds the other kind."""
    folder = os.path.abspath(folder).rstrip(os.sep)
    prefix = path_to_db(folder + os.sep)
    raw = prefix if isinstance(prefix, bytes) else os.fsencode(folder + os.sep)
    parts = ["f.path = ?"]
    params: list[object] = [path_to_db(folder)]
    if isinstance(prefix, str):
        parts.append("(f.path >= ? AND f.path < ?)")
        params += [prefix, prefix[:-1] + chr(ord(os.sep) + 1)]
    parts.append("(f.path >= ? AND f.path < ?)")
    params += [raw, raw[:-1] + bytes([raw[-1] + 1])]
    return "(" + " OR ".join(parts) + ")", params


def allowed_chunks(
    conn: sqlite3.Connection, where: str, params: tuple[object, ...], at_most: int | None = None
) -> tuple[list[int], list[int]] | None:
    """The ids of the passages of the files `where` allows, and of those files, ascending;
    None when there are more than `at_most` passages (counted in SQLite, never read out)."""
    joined = f"FROM files f JOIN chunks c ON c.file_id = f.id WHERE {where}"
    if at_most is not None:
        counted = f"SELECT count(*) FROM (SELECT 1 {joined} LIMIT ?)"
        if int(conn.execute(counted, (*params, at_most + 1)).fetchone()[0]) > at_most:
            return None
    rows = conn.execute(f"SELECT c.id, c.file_id {joined}", params).fetchall()
    return sorted(int(r[0]) for r in rows), sorted({int(r[1]) for r in rows})


def last_id(conn: sqlite3.Connection, table: str) -> int:
    """The largest id in `table` ("chunks" or "files"): the size of the id space runs cover."""
    return int(conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])


def id_runs(ids: list[int], total: int) -> list[tuple[int, int]] | None:
    """At most MAX_RUNS (first, last) ranges holding every id of `ids` (ascending), split at
    the widest gaps (wider than MIN_GAP); None when they would span more than RUN_SHARE of
    the ids 1 to `total`."""
    if not ids:
        return []
    wide = [i for i in range(1, len(ids)) if ids[i] - ids[i - 1] > MIN_GAP]
    gaps = sorted(wide, key=lambda i: ids[i - 1] - ids[i])[: MAX_RUNS - 1]
    starts = [0, *sorted(gaps)]
    runs = [(ids[a], ids[b - 1]) for a, b in zip(starts, [*starts[1:], len(ids)], strict=True)]
    if sum(last - first + 1 for first, last in runs) > RUN_SHARE * max(total, 1):
        return None
    return runs
