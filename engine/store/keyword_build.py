"""Writing the keyword index (engine/store/keyword_index.py) from FTS5's own vocabulary, in
one read snapshot, and keeping it in step: rebuilt when stale at an idle save point, deleted
once a purge leaves it listing words the database no longer holds."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, cast

import numpy as np
import numpy.typing as npt

from engine.private_files import open_private
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
        with _private(partial, "wb") as out:
            header: dict[str, Any] = {"key": key, "tables": {}}
            for table, weights in TABLES.items():
                header["tables"][table] = _write_table(conn, out, table, weights, partial)
            encoded = json.dumps(header).encode()
            out.write(encoded)
            out.write(len(encoded).to_bytes(8, "little") + MAGIC)
        conn.execute("COMMIT")
        os.replace(partial, target)
    finally:
        conn.close()
        for leftover in (partial, partial.with_name(partial.name + ".weights")):
            leftover.unlink(missing_ok=True)
    log.info("keyword index built in %.1f s (%d MB)", time.monotonic() - began,
             target.stat().st_size >> 20)
    return target


def _write_table(conn: sqlite3.Connection, out: BinaryIO, table: str,
                 column_weights: dict[str, int], partial: Path) -> dict[str, Any]:
    columns = len(column_weights)
    weight_of = np.array(list(column_weights.values()), dtype=np.int64)
    # The vocabulary names a row's column; its number is its place in the table.
    column = " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(column_weights))
    weight_type = np.uint8 if table == "chunks_fts" else np.uint16
    cap = np.iinfo(weight_type).max
    vocab = f"temp.dowse_{table}_instances"
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} USING "
                 f"fts5vocab(main, {table}, instance)")
    lengths = _row_lengths(conn, table)
    rows_count = _row_count(conn, table)
    norm = length_norm(lengths, rows_count, int(lengths.sum()))
    bounds: list[float] = []
    terms: list[str] = []
    starts = [0]
    # Postings stream to a side file while terms are read, so a million passages' worth is
    # never all in memory at once; they are copied into place after the term list.
    weights_path = partial.with_name(partial.name + ".weights")
    with _private(weights_path, "w+b") as weights_out:
        ids_start = _align(out)
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
            if len(rows_of) and int(rows_of[-1]) >= 1 << 32:
                raise ValueError("a rowid past 2^32")
            weights = np.minimum(np.add.reduceat(weight_of[codes % columns], first), cap)
            out.write(rows_of.astype(np.uint32).tobytes())
            weights_out.write(weights.astype(weight_type).tobytes())
            freq = weights * 0.5
            bounds.append(float(np.max(freq / (freq + norm[rows_of]))) if len(freq) else 0.0)
            if terms and str(term).encode() <= terms[-1].encode():
                raise ValueError(f"{table}'s vocabulary is not in byte order")
            terms.append(str(term))
            starts.append(starts[-1] + len(first))
        count = starts[-1]
        weights_start = _align(out)
        weights_out.seek(0)
        while block := weights_out.read(1 << 24):
            out.write(block)
    weights_path.unlink()
    return {
        "ids": {"offset": ids_start, "count": count, "dtype": "uint32"},
        "weights": {"offset": weights_start, "count": count, "dtype": np.dtype(weight_type).name},
        "terms": _section(out, "\0".join(terms).encode(), "uint8"),
        "starts": _section(out, np.array(starts, dtype=np.int64).tobytes(), "int64"),
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


def _private(path: Path, mode: str) -> BinaryIO:
    """A new file only its owner can read (engine/private_files.py), as the rest of the data
    dir: the words of every passage are listed in it."""
    flags = os.O_TRUNC | (os.O_RDWR if "+" in mode else os.O_WRONLY)
    return cast(BinaryIO, os.fdopen(open_private(path, flags), mode))


def _align(out: BinaryIO) -> int:
    pad = -out.tell() % ALIGN
    out.write(b"\0" * pad)
    return out.tell()


def _section(out: BinaryIO, data: bytes, dtype: str) -> dict[str, Any]:
    offset = _align(out)
    out.write(data)
    return {"offset": offset, "count": len(data) // np.dtype(dtype).itemsize, "dtype": dtype}
