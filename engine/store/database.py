"""The SQLite file that holds pinned folders, files, passages and metadata: the source of truth."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from engine.store import connection, integrity, queue
from engine.store.disk import DiskFullError, is_disk_full
from engine.store.integrity import DatabaseCorruptError, is_corruption
from engine.store.paths import path_from_db, path_to_db, prefix_params, prefix_sql
from engine.store.queue import QueuedPath
from engine.store.schema import FILE_FTS_ROW, MIGRATIONS, NEIGHBOUR_FTS_ROWS, SCHEMA_VERSION

log = logging.getLogger(__name__)

DB_FILE_NAME = "dowse.sqlite3"


class SchemaTooNewError(RuntimeError):
    """The database was written by a newer Dowse than this one."""


@dataclass(frozen=True)
class FileRow:
    id: int
    folder_id: int
    path: str
    size: int
    mtime: float
    hash: str | None
    kind: str | None
    state: str  # indexed | skipped | failed
    error: str | None


@dataclass(frozen=True)
class ChunkRow:
    ordinal: int
    start: int
    end: int
    page: int | None
    heading: str | None
    text: str
    boxes: bytes | None = None  # where OCR read the passage's words (engine/extract/regions.py)
    # Its word pieces, when the chunker knew them (engine/ingest/chunk.py): never stored,
    # only handed on to the meaning phase (engine/ingest/token_ids.py).
    ids: Any = field(default=None, compare=False, repr=False)


class Store:
    """One open database. Not shared between threads: open one Store per thread."""

    def __init__(self, path: Path, check: bool = False) -> None:
        """Open (or create) the database; with `check`, quick_check it first (reads it all)."""
        self.path = path
        conn = connection.connect(path)  # 0600, secure_delete on
        self.db = sqlite_utils.Database(conn)
        try:
            self.db.enable_wal()
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA busy_timeout = 10000")
            if check and (damage := integrity.quick_check(self.conn)) is not None:
                raise DatabaseCorruptError(path, damage)
            self._migrate()
        except BaseException as exc:
            self.db.close()
            if is_corruption(exc) and not isinstance(exc, DatabaseCorruptError):
                raise DatabaseCorruptError(path, str(exc)) from exc
            raise
        if not (path.parent / integrity.FOLDER_LIST_FILE).exists():
            self._save_folder_list()

    @classmethod
    def open_in(cls, data_dir: Path, check: bool = False) -> Store:
        return cls(data_dir / DB_FILE_NAME, check)

    @property
    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = self.db.conn
        return conn

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            # SQLite may already have rolled back (a full disk at COMMIT); then this is a no-op.
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            if is_disk_full(exc) and not isinstance(exc, DiskFullError):
                raise DiskFullError.at(self.path.parent) from exc
            raise

    def _migrate(self) -> None:
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{self.path} has schema version {version}; this Dowse knows up to "
                f"{SCHEMA_VERSION}. Upgrade Dowse or use another --data-dir."
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            log.info("migrating %s to schema version %d", self.path, number)
            with self.transaction() as conn:
                if int(conn.execute("PRAGMA user_version").fetchone()[0]) >= number:
                    continue  # another connection (another thread's Store) got here first
                for statement in _split_sql(MIGRATIONS[number - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(number),),
                )

    # -- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- folders ----------------------------------------------------------------------------

    def pin_folder(self, path: str) -> int:
        self.conn.execute(
            "INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)",
            (path_to_db(path), time.time()),
        )
        row = self.conn.execute(
            "SELECT id FROM folders WHERE path = ?", (path_to_db(path),)
        ).fetchone()
        self._save_folder_list()
        return int(row[0])

    def unpin_folder(self, path: str) -> list[int] | None:
        """Forget a folder and everything indexed in it; returns the deleted chunk ids."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id FROM folders WHERE path = ?", (path_to_db(path),)
            ).fetchone()
            if row is None:
                return None
            file_ids = [
                int(r[0]) for r in conn.execute("SELECT id FROM files WHERE folder_id = ?", row)
            ]
            chunk_ids = _chunk_ids_of(conn, file_ids)
            conn.execute("DELETE FROM folders WHERE id = ?", row)
        self._save_folder_list()
        return chunk_ids

    def folders(self) -> list[tuple[int, str, str]]:
        rows = self.conn.execute("SELECT id, path, state FROM folders ORDER BY path")
        return [(int(r[0]), path_from_db(r[1]), str(r[2])) for r in rows]

    def _save_folder_list(self) -> None:
        """A plain copy of the pinned folders beside the database, so a rebuild keeps them."""
        integrity.save_folder_list(self.path.parent, [path for _, path, _ in self.folders()])

    # -- files ------------------------------------------------------------------------------

    def file_by_path(self, path: str) -> FileRow | None:
        row = self.conn.execute(
            "SELECT id, folder_id, path, size, mtime, hash, kind, state, error "
            "FROM files WHERE path = ?",
            (path_to_db(path),),
        ).fetchone()
        return None if row is None else _file_row(row)

    def files_in_folder(self, folder_id: int) -> dict[str, FileRow]:
        rows = self.conn.execute(
            "SELECT id, folder_id, path, size, mtime, hash, kind, state, error "
            "FROM files WHERE folder_id = ?",
            (folder_id,),
        )
        return {path_from_db(r[2]): _file_row(r) for r in rows}

    def touch_file(
        self, file_id: int, size: int, mtime: float, finished: Sequence[QueuedPath] = ()
    ) -> None:
        """Record a new size and mtime for a file whose content did not change."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE files SET size = ?, mtime = ? WHERE id = ?", (size, mtime, file_id)
            )
            queue.finish(conn, finished)

    def delete_files(
        self, file_ids: Sequence[int], finished: Sequence[QueuedPath] = ()
    ) -> list[int]:
        """Delete files with their chunks and FTS rows; returns the deleted chunk ids."""
        if not file_ids and not finished:
            return []
        with self.transaction() as conn:
            chunk_ids = _chunk_ids_of(conn, file_ids)
            conn.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in file_ids])
            queue.finish(conn, finished)
        return chunk_ids

    def files_under(self, path: str) -> list[FileRow]:
        """Rows of the file at `path` and of every file below it, if it is a folder."""
        rows = self.conn.execute(
            "SELECT id, folder_id, path, size, mtime, hash, kind, state, error FROM files"
            f" WHERE path = ? OR {prefix_sql('path')}",
            (path_to_db(path), *prefix_params(path)),
        )
        return [_file_row(r) for r in rows]

    def files_with_hash(self, digest: str) -> list[FileRow]:
        rows = self.conn.execute(
            "SELECT id, folder_id, path, size, mtime, hash, kind, state, error FROM files"
            " WHERE hash = ? AND state = 'indexed'",
            (digest,),
        )
        return [_file_row(r) for r in rows]

    def move_file(
        self,
        file_id: int,
        *,
        folder_id: int,
        path: str,
        size: int,
        mtime: float,
        finished: Sequence[QueuedPath] = (),
    ) -> None:
        """Give a file row a new path, keeping its passages and vectors (a rename or move)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE files SET folder_id = ?, path = ?, size = ?, mtime = ? WHERE id = ?",
                (folder_id, path_to_db(path), size, mtime, file_id),
            )
            queue.finish(conn, finished)

    def finish_queued(self, finished: Sequence[QueuedPath]) -> None:
        with self.transaction() as conn:
            queue.finish(conn, finished)

    def file_text(self, path: str) -> str | None:
        """A file's extracted text rebuilt from its passages, at their own offsets.

        Passages overlap and together cover the text except for whitespace between them,
        which comes back as spaces; None when the file has no passages.
        """
        rows = self.conn.execute(
            'SELECT c.start, c."end", c.text FROM chunks c JOIN files f ON f.id = c.file_id'
            " WHERE f.path = ? ORDER BY c.start",
            (path_to_db(path),),
        ).fetchall()
        if not rows:
            return None
        size = max(int(r[1]) for r in rows)
        buffer = [" "] * size
        for start, end, text in rows:
            buffer[int(start) : int(end)] = list(str(text))[: int(end) - int(start)]
        return "".join(buffer)

    def record_file(
        self,
        *,
        folder_id: int,
        path: str,
        size: int,
        mtime: float,
        hash: str | None,
        kind: str | None,
        state: str,
        error: str | None = None,
        chunks: Sequence[ChunkRow] = (),
        extra_columns: Sequence[dict[str, Any]] | None = None,
        finished: Sequence[QueuedPath] = (),
    ) -> tuple[list[int], list[int]]:
        """Write a file's row and replace its chunks (and FTS rows) in one transaction.

        Queue entries in `finished` leave the queue in the same transaction.
        Returns (removed chunk ids, new chunk ids in ordinal order).
        """
        now = time.time()
        with self.transaction() as conn:
            stored = path_to_db(path)
            row = conn.execute("SELECT id FROM files WHERE path = ?", (stored,)).fetchone()
            if row is None:
                cur = conn.execute(
                    "INSERT INTO files(folder_id, path, size, mtime, hash, kind, state, error,"
                    " indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (folder_id, stored, size, mtime, hash, kind, state, error, now),
                )
                file_id = int(cur.lastrowid or 0)
                removed: list[int] = []
            else:
                file_id = int(row[0])
                conn.execute(
                    "UPDATE files SET folder_id = ?, size = ?, mtime = ?, hash = ?, kind = ?,"
                    " state = ?, error = ?, indexed_at = ? WHERE id = ?",
                    (folder_id, size, mtime, hash, kind, state, error, now, file_id),
                )
                removed = _chunk_ids_of(conn, [file_id])
                conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            added = _insert_chunks(conn, file_id, chunks, extra_columns)
            if added:
                conn.execute(NEIGHBOUR_FTS_ROWS, (file_id,))
                conn.execute(FILE_FTS_ROW, (file_id,))
            queue.finish(conn, finished)
        return removed, added

    # -- counts -----------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        one = self.conn.execute
        by_state = dict(one("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall())
        return {
            "folders": int(one("SELECT COUNT(*) FROM folders").fetchone()[0]),
            "files": int(sum(by_state.values())),
            "indexed": int(by_state.get("indexed", 0)),
            "skipped": int(by_state.get("skipped", 0)),
            "failed": int(by_state.get("failed", 0)),
            "passages": int(one("SELECT COUNT(*) FROM chunks").fetchone()[0]),
        }

    def errors(self, limit: int = 1000) -> list[tuple[str, str, str]]:
        """(path, state, reason) of files that failed or were skipped, failures first."""
        rows = self.conn.execute(
            "SELECT path, state, COALESCE(error, '') FROM files WHERE state != 'indexed' "
            "ORDER BY state = 'skipped', path LIMIT ?",
            (limit,),
        )
        return [(path_from_db(r[0]), str(r[1]), str(r[2])) for r in rows]


def _file_row(row: Sequence[Any]) -> FileRow:
    return FileRow(int(row[0]), int(row[1]), path_from_db(row[2]), *row[3:])


def _insert_chunks(
    conn: sqlite3.Connection, file_id: int, chunks: Sequence[ChunkRow],
    extra_columns: Sequence[dict[str, Any]] | None,
) -> list[int]:
    """Insert a file's passages (its old ones are gone) in one statement; their new ids, in
    the order of `chunks`."""
    if not chunks:
        return []
    extras = list(extra_columns) if extra_columns else [{} for _ in chunks]
    keys = list(extras[0])
    if any(list(e) != keys for e in extras):
        raise ValueError("every passage must have the same extra columns")
    columns = ["file_id", "ordinal", "start", '"end"', "page", "heading", "text", "boxes", *keys]
    conn.executemany(
        f"INSERT INTO chunks({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [
            (file_id, c.ordinal, c.start, c.end, c.page, c.heading, c.text, c.boxes,
             *(e[k] for k in keys))
            for c, e in zip(chunks, extras, strict=True)
        ],
    )
    ids = dict(conn.execute("SELECT ordinal, id FROM chunks WHERE file_id = ?", (file_id,)))
    return [int(ids[c.ordinal]) for c in chunks]


def _chunk_ids_of(conn: sqlite3.Connection, file_ids: Sequence[int]) -> list[int]:
    ids: list[int] = []
    for file_id in file_ids:
        rows = conn.execute("SELECT id FROM chunks WHERE file_id = ?", (file_id,))
        ids.extend(int(r[0]) for r in rows)
    return ids


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN … END;) whole."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        candidate = "\n".join(current).strip()
        if candidate.endswith(";") and sqlite3.complete_statement(candidate):
            statements.append(candidate)
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return statements
