"""Writing the keyword index (engine/store/keyword_index.py) from FTS5's own vocabulary, in
one read snapshot, and keeping it in step: rebuilt when stale at an idle save point, deleted
once a purge leaves it listing words the database no longer holds."""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
import numpy.typing as npt

from engine.private_files import open_private
from engine.store import postings_codec
from engine.store.keyword_index import (
    KEYWORD_FILE,
    MAGIC,
    TABLES,
    freshness_key,
    length_norm,
    open_keyword_index,
)

log = logging.getLogger(__name__)

ALIGN = 64


# When each data dir's keyword index was last built here (monotonic end, seconds it took).
_BUILT: dict[Path, tuple[float, float]] = {}


def refresh_keyword_index(
    db_path: Path, conn: sqlite3.Connection, min_passages: int, spacing: float = 0.0
) -> bool:
    """Build the keyword index when it is missing or stale and the database holds at least
    `min_passages` passages (below that FTS5 answers in tens of milliseconds and the file
    would only cost disk); a stale one below that is removed. True when one was built.

    Not again until `spacing` times the last build's duration has passed since it ended: a
    folder edited every minute would otherwise keep a core busy rebuilding a big index (a
    minute a build at a million passages); FTS5 answers meanwhile, and the next idle point
    after that builds it."""
    index = open_keyword_index(db_path)
    if index is not None and index.fresh(conn):
        return False
    if _row_count(conn, "chunks_fts") < min_passages:
        drop_stale_keyword_index(db_path, conn)
        return False
    last = _BUILT.get(db_path)
    if last is not None and time.monotonic() < last[0] + spacing * last[1]:
        return False
    began = time.monotonic()
    build_keyword_index(db_path)
    _BUILT[db_path] = (time.monotonic(), time.monotonic() - began)
    return True


def drop_stale_keyword_index(db_path: Path, conn: sqlite3.Connection) -> None:
    """Remove the keyword index unless it matches FTS5's content: once passages are purged
    a stale one is the last place their words are listed."""
    index = open_keyword_index(db_path)
    if index is None or not index.fresh(conn):
        (db_path.parent / KEYWORD_FILE).unlink(missing_ok=True)


def build_keyword_index(db_path: Path) -> Path:
    """Write the keyword index of the database at `db_path` from one read snapshot."""
    began = time.monotonic()
    target = db_path.parent / KEYWORD_FILE
    # Named for this process and thread, so two builders (an engine and a `dowse index` of
    # the same data dir) never write into one file; the last to finish replaces the other.
    partial = target.with_name(f"{KEYWORD_FILE}.{os.getpid()}-{threading.get_ident()}.partial")
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("BEGIN")
        key = freshness_key(conn)
        with _private(partial) as out:
            header: dict[str, Any] = {"key": key, "tables": {}}
            for table, weights in TABLES.items():
                header["tables"][table] = _write_table(conn, out, table, weights)
            encoded = json.dumps(header).encode()
            out.write(encoded)
            out.write(len(encoded).to_bytes(8, "little") + MAGIC)
        conn.execute("COMMIT")
        os.replace(partial, target)
    finally:
        conn.close()
        partial.unlink(missing_ok=True)
    log.info("keyword index built in %.1f s (%d MB)", time.monotonic() - began,
             target.stat().st_size >> 20)
    return target


def _write_table(conn: sqlite3.Connection, out: BinaryIO, table: str,
                 column_weights: dict[str, int]) -> dict[str, Any]:
    columns = len(column_weights)
    weight_of = np.array(list(column_weights.values()), dtype=np.int64)
    # Stored weights are divided by the columns' common power of two (files_fts has one
    # column of weight 2): a bit less each, and exactly the same scores (`scale`).
    common = math.gcd(*column_weights.values())
    scale = common & -common
    cap = 0xFFFF
    # The vocabulary names a row's column; its number is its place in the table.
    column = " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(column_weights))
    vocab = f"temp.dowse_{table}_instances"
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} USING "
                 f"fts5vocab(main, {table}, instance)")
    lengths = _row_lengths(conn, table)
    rows_count = _row_count(conn, table)
    norm = length_norm(lengths, rows_count, int(lengths.sum()))
    bounds: list[float] = []
    terms: list[str] = []
    starts, offsets = [0], [0]
    # Each term's postings are encoded and written as they are read, so a million passages'
    # worth is never all in memory at once.
    heap_start = _align(out)
    rows = conn.execute(f"SELECT term, group_concat(doc * {columns} + CASE col {column} END) "
                        f"FROM {vocab} GROUP BY term")
    for term, codes_text in rows:
        codes = np.fromstring(codes_text, dtype=np.int64, sep=",")
        docs = codes // columns
        if len(docs) > 1 and bool(np.any(docs[1:] < docs[:-1])):
            order = np.argsort(docs, kind="stable")
            codes, docs = codes[order], docs[order]
        first = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
        rows_of = docs[first]
        weights = np.minimum(np.add.reduceat(weight_of[codes % columns], first) // scale, cap)
        blob = postings_codec.encode(rows_of, weights)
        out.write(blob)
        freq = weights * (0.5 * scale)
        bounds.append(float(np.max(freq / (freq + norm[rows_of]))))
        if terms and str(term).encode() <= terms[-1].encode():
            raise ValueError(f"{table}'s vocabulary is not in byte order")
        terms.append(str(term))
        starts.append(starts[-1] + len(first))
        offsets.append(offsets[-1] + len(blob))
    return {
        "postings": {"offset": heap_start, "count": offsets[-1], "dtype": "uint8"},
        "scale": scale,
        "terms": _section(out, "\0".join(terms).encode(), "uint8"),
        "starts": _section(out, np.array(starts, dtype=np.int64).tobytes(), "int64"),
        "offsets": _section(out, np.array(offsets, dtype=np.int64).tobytes(), "int64"),
        "lengths": _section(out, lengths.tobytes(), "uint32"),
        "bounds": _section(out, np.array(bounds, dtype=np.float64).tobytes(), "float64"),
        "rows": rows_count,
        "tokens": int(lengths.sum()),
    }


def _row_count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}_docsize").fetchone()[0])


def _row_lengths(conn: sqlite3.Connection, table: str) -> npt.NDArray[np.uint32]:
    """Every row's size in tokens (its columns summed), from FTS5's docsize varints."""
    top_id = conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}_docsize").fetchone()[0]
    lengths = np.zeros(int(top_id) + 1, dtype=np.uint32)
    for rowid, blob in conn.execute(f"SELECT id, sz FROM {table}_docsize"):
        lengths[rowid] = sum(_varints(bytes(blob)))
    return lengths


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (FTS5 stores column sizes so): 7 bits a byte, high bit continues."""
    values, value = [], 0
    for byte in blob:
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            values.append(value)
            value = 0
    return values


def _private(path: Path) -> BinaryIO:
    """A new file for writing that only its owner can read (engine/private_files.py), as the
    rest of the data dir: the words of every passage are listed in it."""
    return cast(BinaryIO, os.fdopen(open_private(path, os.O_TRUNC | os.O_WRONLY), "wb"))


def _align(out: BinaryIO) -> int:
    pad = -out.tell() % ALIGN
    out.write(b"\0" * pad)
    return out.tell()


def _section(out: BinaryIO, data: bytes, dtype: str) -> dict[str, Any]:
    offset = _align(out)
    out.write(data)
    return {"offset": offset, "count": len(data) // np.dtype(dtype).itemsize, "dtype": dtype}
