"""The passages still without a vector, and the vectors already stored that a new one can reuse.

Indexing has two phases (engine/ingest/meaning.py): a file's passages are written first,
findable by their words, with a NULL vector; the vectors are written later. The partial
index chunks_unembedded (migration 8) keeps "what is left" cheap to find and to count even
at a million passages, and chunks_digest finds an embedded passage with the same text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from engine.store.digest import text_digest

# SQLite's default limit on bound parameters is 999 on old builds.
_MAX_PARAMS = 500


@dataclass(frozen=True)
class Unembedded:
    """One passage written without a vector."""

    id: int
    text: str


def pending_count(conn: sqlite3.Connection) -> int:
    """How many passages have no vector yet (the partial index answers without the table)."""
    row = conn.execute("SELECT COUNT(*) FROM chunks WHERE vector IS NULL").fetchone()
    return int(row[0])


def passage_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])


def next_unembedded(
    conn: sqlite3.Connection, limit: int, skip: Collection[int] = ()
) -> list[Unembedded]:
    """Up to `limit` passages without a vector, file by file in passage order, leaving out
    the ids in `skip` (a batch already being embedded)."""
    rows = conn.execute(
        "SELECT id, text FROM chunks INDEXED BY chunks_unembedded WHERE vector IS NULL"
        " ORDER BY file_id, ordinal LIMIT ?",
        (limit + len(skip),),
    ).fetchall()
    found = [Unembedded(int(r[0]), str(r[1])) for r in rows if int(r[0]) not in skip]
    return found[:limit]


def stored_vectors(conn: sqlite3.Connection, texts: Iterable[str]) -> dict[str, bytes]:
    """The stored vector of each text in `texts` that some embedded passage has exactly."""
    by_digest: dict[int, set[str]] = {}
    for text in texts:
        by_digest.setdefault(text_digest(text), set()).add(text)
    found: dict[str, bytes] = {}
    digests = list(by_digest)
    for i in range(0, len(digests), _MAX_PARAMS):
        part = digests[i : i + _MAX_PARAMS]
        rows = conn.execute(
            "SELECT digest, text, vector FROM chunks INDEXED BY chunks_digest"
            f" WHERE vector IS NOT NULL AND digest IN ({', '.join('?' * len(part))})",
            part,
        )
        for digest, text, vector in rows:
            # A digest collision is astronomically rare, but the text must match exactly.
            if str(text) in by_digest.get(int(digest), ()):
                found.setdefault(str(text), bytes(vector))
    return found


def write_vectors(
    conn: sqlite3.Connection, rows: Sequence[tuple[int, str, bytes]]
) -> list[int]:
    """Store (id, text, vector) for passages that still have no vector; returns the ids
    written. A passage removed or re-cut meanwhile (its file changed) is left out."""
    written: list[int] = []
    for chunk_id, text, blob in rows:
        cur = conn.execute(
            "UPDATE chunks SET vector = ?, digest = ? WHERE id = ? AND vector IS NULL",
            (blob, text_digest(text), chunk_id),
        )
        if cur.rowcount:
            written.append(chunk_id)
    return written
