"""Data dirs that fail the way real ones do: a small tmpfs that fills up, one mounted read-only,
bytes flipped in the database; and snapshots to compare an index against a clean one."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.core import Engine


@contextmanager
def tmpfs(path: Path, size_bytes: int, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size_bytes` mounted at `path`; the test is skipped where mount is refused
    (it needs root, as in CI, or a user namespace)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size_bytes},mode=0700" + (",ro" if read_only else "")
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(path: Path, leave_bytes: int) -> Path:
    """Write a filler file until only about `leave_bytes` are free where `path` lies."""
    stats = os.statvfs(path.parent)
    free = stats.f_bavail * stats.f_frsize
    with open(path, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return path


def integrity(db: Path) -> str:
    """PRAGMA integrity_check over a read-only connection: "ok", or what is wrong."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return "; ".join(str(r[0]) for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def passages(db: Path) -> set[tuple[str, str]]:
    """Every (file path, passage text) the index holds."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT f.path, c.text FROM chunks c JOIN files f ON f.id = c.file_id"
        ).fetchall()
    finally:
        conn.close()
    return {(os.fsdecode(p) if isinstance(p, bytes) else str(p), str(t)) for p, t in rows}


def clean_passages(tree: Path, data_dir: Path) -> set[tuple[str, str]]:
    """What a fresh keyword-only `dowse index` of `tree` holds (passages do not depend on
    the model, only on the tokenizer)."""
    engine = Engine(data_dir)
    try:
        engine.index([tree], keyword_only=True)
    finally:
        engine.close()
    return passages(data_dir / "dowse.sqlite3")


def flip_pages(db: Path, first_page: int, pages: int, seed: int = 0) -> None:
    """Overwrite whole pages of a database with random bytes (what a bad sector does)."""
    rng = random.Random(seed)
    with open(db, "r+b") as handle:
        page_size = int.from_bytes(handle.read(18)[16:18], "big")  # the header says
        handle.seek(first_page * page_size)
        handle.write(rng.randbytes(pages * page_size))
