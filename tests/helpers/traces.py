"""Looks for what should be gone: given byte strings anywhere in the files under some folders."""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable
from pathlib import Path

# hnswlib 0.8 saveIndex's header (engine/vectors/hnsw_file.py reads the same layout).
_HEADER = struct.Struct("<6QiI3QdQ")


def traces_in(roots: Path | Iterable[Path], needles: Iterable[bytes]) -> dict[str, list[str]]:
    """{file: [needles found in it]} over every regular file at or under `roots`, read whole
    (the WAL and -shm included); {} when none holds any."""
    wanted = list(needles)
    found: dict[str, list[str]] = {}
    for root in [roots] if isinstance(roots, Path) else roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            hits = [_name(n) for n in wanted if n in data]
            if hits:
                found[str(path)] = hits
    return found


def hnsw_vectors(path: Path) -> dict[int, tuple[bytes, bool]]:
    """{label: (float32 vector bytes, marked deleted)} for every slot of a saved hnswlib file."""
    raw = path.read_bytes()
    (_offset0, _max, count, record, label_offset, offset_data, *_rest) = _HEADER.unpack_from(raw)
    slots = {}
    for n in range(count):
        start = _HEADER.size + n * record
        label = int.from_bytes(raw[start + label_offset : start + label_offset + 8], "little")
        vector = raw[start + offset_data : start + label_offset]
        slots[label] = (vector, bool(raw[start + 2] & 1))
    return slots


def stored_vectors(database: Path, chunk_ids: Iterable[int] | None = None) -> dict[int, bytes]:
    """{chunk id: its stored vector blob}, read through a connection closed at once (an open
    reader would hold the WAL and keep a purge from truncating it)."""
    conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, vector FROM chunks WHERE vector IS NOT NULL").fetchall()
    finally:
        conn.close()
    wanted = None if chunk_ids is None else set(chunk_ids)
    return {int(i): bytes(v) for i, v in rows if wanted is None or int(i) in wanted}


def _name(needle: bytes) -> str:
    try:
        text = needle.decode("ascii")
        if text.isprintable():
            return text
    except UnicodeDecodeError:
        pass
    return f"<{len(needle)} bytes {needle[:6].hex()}…>"
