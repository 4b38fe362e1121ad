"""The digest of a passage's text that finds an identical passage embedded anywhere already."""

from __future__ import annotations

import hashlib
import sqlite3


def text_digest(text: str) -> int:
    """64 bits of BLAKE2b of the UTF-8 text, as a signed integer (an SQLite INTEGER)."""
    raw = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(raw, "little", signed=True)


def register(conn: sqlite3.Connection) -> None:
    """Make dowse_digest(text) callable in SQL on `conn` (migration 8 fills the column)."""
    conn.create_function("dowse_digest", 1, _sql_digest, deterministic=True)


def _sql_digest(text: object) -> int | None:
    return text_digest(text) if isinstance(text, str) else None
