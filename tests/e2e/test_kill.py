"""SIGKILL the engine at random points while it indexes; the index must end up exactly clean."""

from __future__ import annotations

import random
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from engine.config import IndexConfig
from engine.core import Engine
from engine.search.semantic import VECTORS_FILE_NAME, from_blobs
from engine.store.keyword import keyword_search
from engine.vectors import VectorIndex
from tests.helpers.documents import write_pdf
from tests.helpers.engine_process import (
    connect,
    short_runtime_dir,
    start_engine,
    stop_engine,
    wait_for,
    wait_idle,
)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

KILLS = 10
TORTURE_KILLS = 100  # `make test-torture`
FILES = 360
STARTING = ("starting", "checking the index", "loading model")
WORDS = (
    "river lantern copper orchard falcon granite harbor meadow violin glacier saffron "
    "compass thunder willow ember quartz canyon tundra beacon marble prairie cobalt "
    "lagoon cedar ferry juniper mosaic nectar opal pepper quill raven sable tide "
    "umber velvet walnut yarrow zephyr anchor bramble cinder dune estuary fjord grove"
).split()


def _paragraph(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    return " ".join(chosen).capitalize() + "."


def _write_tree(root: Path, rng: random.Random) -> None:
    for i in range(FILES):
        folder = root / f"group{i % 6}"
        folder.mkdir(parents=True, exist_ok=True)
        body = "\n\n".join(_paragraph(rng, rng.randint(40, 160)) for _ in range(3))
        suffix = ".md" if i % 3 else ".txt"
        (folder / f"note{i:03d}{suffix}").write_text(f"Note {i} code{i:03d}x\n\n{body}\n")
    for i in range(4):
        write_pdf(root / f"report{i}.pdf", f"Report {i} code{900 + i}x {_paragraph(rng, 30)}")


def _mutate(root: Path, round_number: int, rng: random.Random) -> None:
    """Between kills the user keeps working: deletes, edits, renames, new files."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if round_number == 2:
        for path in rng.sample(files, 25):
            path.unlink()
    elif round_number == 4:
        for path in rng.sample([p for p in files if p.suffix != ".pdf"], 25):
            path.write_text(path.read_text() + "\n\n" + _paragraph(rng, 50) + "\n")
    elif round_number == 6:
        for path in rng.sample(files, 10):
            path.rename(path.with_name("renamed-" + path.name))
        for i in range(10):
            (root / f"late{i}.txt").write_text(f"Late note code{700 + i}x. {_paragraph(rng, 60)}")
    elif round_number == 8:
        shutil.rmtree(root / "group5")
    elif round_number >= KILLS:  # the torture run: a little work waiting at every restart
        for path in rng.sample([p for p in files if p.suffix != ".pdf"], 12):
            path.write_text(path.read_text() + "\n\n" + _paragraph(rng, 20) + "\n")
        new = root / f"churn{round_number}.txt"
        new.write_text(f"Churn note code{round_number + 1000}x. {_paragraph(rng, 40)}")


def _snapshot(db: Path) -> tuple[set[tuple[str, str, str]], list[tuple[str, int, int, int, str]]]:
    conn = sqlite3.connect(db)
    try:
        files = {
            (str(r[0]), str(r[1]), str(r[2]))
            for r in conn.execute("SELECT path, state, COALESCE(hash, '') FROM files")
        }
        chunks = sorted(
            (str(r[0]), int(r[1]), int(r[2]), int(r[3]), str(r[4]))
            for r in conn.execute(
                'SELECT f.path, c.ordinal, c.start, c."end", c.text FROM chunks c '
                "JOIN files f ON f.id = c.file_id"
            )
        )
    finally:
        conn.close()
    return files, chunks


def _check_findable(data: Path, rng: random.Random) -> None:
    """Every passage has a vector in the HNSW file that finds it, and FTS agrees with SQLite."""
    conn = sqlite3.connect(data / "dowse.sqlite3")
    try:
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        rows = conn.execute("SELECT id, text, vector FROM chunks").fetchall()
        assert all(r[2] is not None for r in rows), "a passage was left without a vector"
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        index = VectorIndex.load(data / VECTORS_FILE_NAME, 384, IndexConfig())
        assert sorted(index.labels().tolist()) == sorted(ids.tolist())
        vectors = from_blobs([bytes(r[2]) for r in rows], 384)
        found, _ = index.search(vectors, 1)
        texts = {int(r[0]): str(r[1]) for r in rows}
        # A passage finds itself, or one with the very same text (the same vector).
        assert all(texts[int(f)] == texts[int(i)] for f, i in zip(found[:, 0], ids, strict=True))
        for chunk_id, text, _ in rng.sample(rows, 40):
            code = next((w for w in text.split() if w.startswith("code")), None)
            if code is None:
                continue
            hits = keyword_search(conn, code.rstrip("."), 20)
            assert chunk_id in {h.chunk_id for h in hits}, f"FTS cannot find {code}"
    finally:
        conn.close()


@pytest.mark.parametrize("kills", [
    pytest.param(KILLS, id="10-kills"),
    pytest.param(TORTURE_KILLS, id="100-kills", marks=pytest.mark.slow),
])
def test_sigkill_during_indexing_converges_to_a_clean_index(tmp_path: Path, kills: int) -> None:
    rng = random.Random(20261123)
    tree = tmp_path / "tree"
    _write_tree(tree, rng)
    data = tmp_path / "data"
    runtime = short_runtime_dir()

    process = start_engine(data, runtime)
    with connect(data, runtime) as client:
        client.pin(str(tree))
    kills_while_busy = 0
    for round_number in range(kills):
        with connect(data, runtime) as client:
            # Kill at a random moment after the worker is past loading the model, or at
            # once when there is nothing left to do (that is a random point too).
            wait_for(lambda c=client: c.status()["engine"]["activity"] not in STARTING,
                     120, "the model to load")
            time.sleep(rng.uniform(0.0, 1.5))
            status = client.status()
        meaning = status["meaning"]  # the words phase, then the meaning phase, both count
        kills_while_busy += status["queue"] > 0 or meaning["embedded"] < meaning["passages"]
        process.kill()
        process.wait()
        _mutate(tree, round_number, rng)
        process = start_engine(data, runtime)
    with connect(data, runtime) as client:
        wait_idle(client, timeout=300)
        client.shutdown()
    assert stop_engine(process) == 0
    # Ten kills: the first pass over the tree keeps most of them busy. A hundred: each
    # restart finds a dozen edits, a fifth of the kills at least land while they wait.
    assert kills_while_busy >= max(5, kills // 5), "kills should land while work was queued"

    clean = tmp_path / "clean"
    engine = Engine(clean)
    try:
        engine.index([tree])
    finally:
        engine.close()
    killed_files, killed_chunks = _snapshot(data / "dowse.sqlite3")
    clean_files, clean_chunks = _snapshot(clean / "dowse.sqlite3")
    assert killed_files == clean_files
    assert killed_chunks == clean_chunks
    assert not any("group5" in path for path, *_ in killed_chunks)
    _check_findable(data, rng)
