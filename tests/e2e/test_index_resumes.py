"""`dowse index` killed in either phase resumes: the words where they stopped, then the meaning."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.config import IndexConfig
from engine.search.semantic import VECTORS_FILE_NAME
from engine.vectors import VectorIndex

pytestmark = [pytest.mark.e2e, pytest.mark.model]

FILES = 160
WORDS = ("harbour lantern orchard granite violin glacier saffron compass willow ember quartz "
         "canyon beacon marble prairie cobalt lagoon cedar ferry juniper mosaic opal").split()


def _write_tree(root: Path) -> None:
    rng = random.Random(1601)
    for i in range(FILES):
        paragraphs = [" ".join(rng.choice(WORDS) for _ in range(90)) + "." for _ in range(3)]
        (root / f"note{i:03d}.txt").write_text(f"Note code{i:03d}x\n\n" + "\n\n".join(paragraphs))


def _start(tree: Path, data: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DOWSE_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "index", str(tree)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _counts(data: Path) -> tuple[int, int, int]:
    """(files recorded, passages, passages without a vector), read as another process would."""
    db = data / "dowse.sqlite3"
    if not db.exists():
        return 0, 0, 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            files = conn.execute("SELECT COUNT(*) FROM files WHERE state = 'indexed'").fetchone()
            chunks = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(vector IS NULL), 0) FROM chunks"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created yet, or mid-migration
        return 0, 0, 0
    return int(files[0]), int(chunks[0]), int(chunks[1])


def _kill_when(process: subprocess.Popen[bytes], data: Path,
               ready: Callable[[tuple[int, int, int]], bool], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dowse index ended (code {process.returncode}) before the kill point")
        if ready(_counts(data)):
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.02)
    process.kill()
    pytest.fail("the kill point was never reached")


def test_index_killed_in_each_phase_resumes_to_a_whole_index(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    _write_tree(tree)
    data = tmp_path / "data"

    # Killed in the words phase: some files recorded, others not read yet.
    _kill_when(_start(tree, data), data, lambda c: 10 <= c[0] < FILES - 20)
    files, _, _ = _counts(data)
    assert files < FILES

    # Killed in the meaning phase: every file findable by its words, passages left to embed.
    _kill_when(_start(tree, data), data, lambda c: c[0] == FILES and c[2] > 0)
    files, passages, unembedded = _counts(data)
    assert files == FILES and 0 < unembedded <= passages
    conn = sqlite3.connect(data / "dowse.sqlite3")
    try:  # findable by words already, though its vector is missing
        row = conn.execute(
            "SELECT c.text FROM chunks c JOIN chunks_fts ON chunks_fts.rowid = c.id"
            " WHERE chunks_fts MATCH 'code159x'"
        ).fetchone()
        assert row is not None
    finally:
        conn.close()

    finished = _start(tree, data)
    assert finished.wait(timeout=600) == 0
    files, passages, unembedded = _counts(data)
    assert (files, unembedded) == (FILES, 0)
    conn = sqlite3.connect(data / "dowse.sqlite3")
    try:
        ids = sorted(int(r[0]) for r in conn.execute("SELECT id FROM chunks"))
        # The resumed run read only what the killed ones had not: one row per file, no gaps.
        assert conn.execute("SELECT COUNT(DISTINCT file_id) FROM chunks").fetchone()[0] == FILES
    finally:
        conn.close()
    index = VectorIndex.load(data / VECTORS_FILE_NAME, 384, IndexConfig())
    assert sorted(index.labels().tolist()) == ids
