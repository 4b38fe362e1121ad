"""Forgetting folders in-process: which folders a path means, and what is left afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.store.repack as repack
from engine.core import Engine
from engine.embed.hashing import HashingEncoder
from engine.ingest.forget import folders_to_forget
from engine.search.semantic import VECTORS_FILE_NAME, SemanticIndex
from tests.helpers.traces import hnsw_vectors, stored_vectors, traces_in

pytestmark = pytest.mark.model  # the real packaged tokenizer cuts the passages

PINNED = ["/home/me/Notes", "/home/me/work/a", "/home/me/work/b", "/home/me/worklog"]


def test_a_path_means_the_pinned_folders_at_or_below_it() -> None:
    assert folders_to_forget(PINNED, ["/home/me/Notes"]) == ["/home/me/Notes"]
    assert folders_to_forget(PINNED, ["/home/me/work/"]) == ["/home/me/work/a", "/home/me/work/b"]
    assert folders_to_forget(PINNED, ["/home/me/work/b", "/home/me"]) == [
        "/home/me/work/b", "/home/me/Notes", "/home/me/work/a", "/home/me/worklog"]
    with pytest.raises(ValueError, match="not pinned: /elsewhere"):
        folders_to_forget(PINNED, ["/home/me/Notes", "/elsewhere"])
    with pytest.raises(ValueError, match="inside the pinned folder /home/me/Notes"):
        folders_to_forget(PINNED, ["/home/me/Notes/diary.txt"])
    with pytest.raises(ValueError, match="not pinned"):
        folders_to_forget(PINNED, ["/home/me/work"], exact=True)


def _hashing_engine(data: Path) -> Engine:
    """An engine whose semantic side is the hashing encoder: real HNSW, no model to load."""
    engine = Engine(data)
    engine._semantic = SemanticIndex(
        engine.store, HashingEncoder(384), engine.data_dir, engine.config.index
    )
    return engine


def test_forget_without_the_model_prunes_the_vector_file(tmp_path: Path) -> None:
    keep, drop = tmp_path / "keep", tmp_path / "drop"
    for folder, word in ((keep, "gardening"), (drop, "wombatrix")):
        folder.mkdir()
        for n in range(3):
            (folder / f"{n}.txt").write_text(f"Notes number {n} about {word} and more {word}.")
    engine = _hashing_engine(tmp_path / "data")
    engine.index([keep, drop])
    dropped = {i for i, in engine.store.conn.execute(
        "SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path LIKE ?",
        (f"{drop}/%",))}
    float32 = [v.tobytes() for v in engine.semantic.index.get_vectors(sorted(dropped))]
    engine.close()
    data = tmp_path / "data"
    float16 = list(stored_vectors(data / "dowse.sqlite3", dropped).values())
    assert len(float16) == len(float32) == 3

    engine = Engine(data)  # as `dowse forget` opens it: no model loaded
    forgotten = engine.forget([str(drop)])
    assert (forgotten.folders, forgotten.files, forgotten.passages) == ((str(drop),), 3, 3)
    assert "3 file(s) and 3 passage(s)" in forgotten.describe()
    assert engine.store.folders()[0][1] == str(keep)
    engine.close()
    assert traces_in(data, [b"wombatrix", *float16, *float32]) == {}
    slots = hnsw_vectors(data / VECTORS_FILE_NAME)
    assert all(deleted for label, (_, deleted) in slots.items() if label in dropped)
    assert sum(not deleted for _, deleted in slots.values()) == 3
    assert traces_in(data, [b"gardening"]), "what was kept is still indexed"


def test_a_run_that_wrote_a_quarter_of_the_index_repacks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repack, "MIN_WRITTEN", 1)
    root = tmp_path / "docs"
    root.mkdir()
    for n in range(8):
        (root / f"{n}.txt").write_text(f"Note {n} on gardening, compost and the wombatrix {n}.")
    engine = _hashing_engine(tmp_path / "data")
    try:
        engine.index([root])  # its save point at the end repacks, the vectors being in
        last = engine.store.conn.execute("SELECT max(id) FROM chunks").fetchone()[0]
        assert engine.store.get_meta(repack.REPACKED_KEY) == str(last)
        assert engine.store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert engine.search("wombatrix", mode="keyword").results
        assert engine.search("gardening compost", mode="semantic").results
        (root / "8.txt").write_text("One more note on gardening.")  # 1 passage of 9: not yet
        engine.index([root])
        assert engine.store.get_meta(repack.REPACKED_KEY) == str(last)
    finally:
        engine.close()
