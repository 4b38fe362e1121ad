"""One file's trouble is that file's row: whatever raises for it, the rest of the batch goes on."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.config import Config
from engine.extract import Extracted, extract_file
from engine.ingest import indexer as indexer_module
from engine.ingest.chunk import PassageTokenizer
from engine.ingest.indexer import Indexer
from engine.ingest.meaning import MeaningStage
from engine.ingest.walk import FolderWalker
from engine.store import Store
from engine.store import queue as work_queue
from engine.store.pending_vectors import pending_count

pytestmark = pytest.mark.model  # the real tokenizer cuts the passages


class FakeVectors:
    """Four-number vectors; refuses any passage holding "poison", as a broken encoder would."""

    def __init__(self) -> None:
        self.applied: list[int] = []

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if any("poison" in t for t in texts):
            raise RuntimeError("the encoder choked")
        return np.ones((len(texts), 4), dtype=np.float32)

    def vector_column(self, vectors: np.ndarray) -> list[dict[str, Any]]:
        return [{"vector": v.astype(np.float16).tobytes()} for v in vectors]

    def blob_vectors(self, blobs: Sequence[bytes]) -> np.ndarray:
        if not blobs:
            return np.empty((0, 4), dtype=np.float32)
        return np.stack([np.frombuffer(b, np.float16).astype(np.float32) for b in blobs])

    def apply(self, removed: Sequence[int], added: Sequence[int], vectors: np.ndarray) -> None:
        self.applied += list(added)

    def checkpoint(self) -> None:
        pass


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / name).write_text(f"An ordinary file called {name} about gardens.")
    return root


def _indexer(tmp_path: Path, tokenizer: PassageTokenizer, extract: Any = None,
             vectors: Any = None) -> Indexer:
    store = Store(tmp_path / "dowse.sqlite3")
    return Indexer(store, Config(), tokenizer, vectors, extract=extract)


def _states(indexer: Indexer) -> dict[str, tuple[str, str | None]]:
    rows = indexer.store.conn.execute("SELECT path, state, error FROM files").fetchall()
    return {Path(r[0]).name: (r[1], r[2]) for r in rows}


def test_a_bug_in_one_extraction_is_that_files_failure_with_a_traceback(
    tmp_path: Path, folder: Path, passage_tokenizer: PassageTokenizer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def extract(path: Path) -> Extracted:
        if path.name == "b.txt":
            raise RuntimeError("boom")
        return extract_file(path, 1 << 20)

    indexer = _indexer(tmp_path, passage_tokenizer, extract)
    with caplog.at_level(logging.ERROR):
        summary = indexer.index_folders([folder])
    assert summary.indexed == 2
    assert _states(indexer)["b.txt"] == ("failed", "internal error: RuntimeError: boom")
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


def test_a_file_that_vanishes_is_dropped_quietly(
    tmp_path: Path, folder: Path, passage_tokenizer: PassageTokenizer
) -> None:
    def extract(path: Path) -> Extracted:
        if path.name == "a.txt":
            (folder / "c.txt").unlink()  # listed by the walk, gone before it is read
            path.unlink()  # and this one goes while it is read
            raise FileNotFoundError(2, "No such file or directory")
        return extract_file(path, 1 << 20)

    indexer = _indexer(tmp_path, passage_tokenizer, extract)
    summary = indexer.index_folders([folder])
    assert (summary.indexed, summary.failed, summary.skipped) == (1, [], [])
    assert _states(indexer) == {"b.txt": ("indexed", None)}


def test_a_file_that_keeps_changing_is_never_stored_half_read(
    tmp_path: Path, folder: Path, passage_tokenizer: PassageTokenizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(indexer_module, "CHANGED_RETRY_SECONDS", 0.0)
    reads: dict[str, int] = {}

    def extract(path: Path) -> Extracted:
        reads[path.name] = reads.get(path.name, 0) + 1
        doc = extract_file(path, 1 << 20)
        # b.txt is written to on every read; c.txt only on the first.
        if path.name == "b.txt" or (path.name == "c.txt" and reads["c.txt"] == 1):
            with open(path, "a") as handle:
                handle.write(" and then some more")
        return doc

    indexer = _indexer(tmp_path, passage_tokenizer, extract)
    summary = indexer.index_folders([folder])
    states = _states(indexer)
    assert states["b.txt"] == (
        "failed", "it kept changing while it was read; it is read again next time"
    )
    assert reads["b.txt"] == 1 + indexer_module.CHANGED_RETRIES
    assert states["c.txt"] == ("indexed", None) and reads["c.txt"] == 2
    assert "some more" in (indexer.store.file_text(str(folder / "c.txt")) or "")
    assert indexer.store.file_text(str(folder / "b.txt")) is None  # nothing half-read kept
    assert summary.indexed == 2
    # The next run reads it again, whatever its mtime then (recorded as -1).
    assert indexer.store.file_by_path(str(folder / "b.txt")).mtime == -1.0  # type: ignore[union-attr]


def test_a_file_the_store_refuses_fails_alone(
    tmp_path: Path, folder: Path, passage_tokenizer: PassageTokenizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    indexer = _indexer(tmp_path, passage_tokenizer)
    real = indexer.store.record_file

    def record_file(**kwargs: Any) -> tuple[list[int], list[int]]:
        if kwargs["path"].endswith("b.txt") and kwargs["state"] == "indexed":
            raise ValueError("a value SQLite cannot bind")
        return real(**kwargs)

    monkeypatch.setattr(indexer.store, "record_file", record_file)
    summary = indexer.index_folders([folder])
    assert summary.indexed == 2
    assert _states(indexer)["b.txt"] == (
        "failed", "internal error: ValueError: a value SQLite cannot bind"
    )


def test_a_fault_of_the_data_dir_stops_the_batch(
    tmp_path: Path, folder: Path, passage_tokenizer: PassageTokenizer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    indexer = _indexer(tmp_path, passage_tokenizer)

    def record_file(**kwargs: Any) -> tuple[list[int], list[int]]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(indexer.store, "record_file", record_file)
    with pytest.raises(sqlite3.OperationalError):
        indexer.index_folders([folder])


def test_passages_that_break_the_encoder_leave_only_their_file_unembedded(
    tmp_path: Path, folder: Path, passage_tokenizer: PassageTokenizer
) -> None:
    (folder / "b.txt").write_text("This one holds poison for the encoder.")
    vectors = FakeVectors()
    indexer = _indexer(tmp_path, passage_tokenizer, vectors=vectors)
    summary = indexer.index_folders([folder])
    # The words phase never calls the encoder: every file is findable by its words.
    assert summary.indexed == 3 and vectors.applied == []
    assert _states(indexer)["b.txt"][0] == "indexed"
    # The meaning phase embeds the others; the passage the encoder refuses stays without a
    # vector, found by its words only, and is not retried in the same run.
    stage = MeaningStage(indexer.store, vectors)
    assert stage.drain() == 2 and len(vectors.applied) == 2
    assert pending_count(indexer.store.conn) == 1 and stage.step() == 0


def test_a_queued_path_that_raises_leaves_the_queue(
    tmp_path: Path, folder: Path, passage_tokenizer: PassageTokenizer,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    indexer = _indexer(tmp_path, passage_tokenizer)
    folder_id = indexer.store.pin_folder(str(folder))
    with indexer.store.transaction() as conn:
        work_queue.enqueue(
            conn, [(str(folder / n), folder_id, 0, 0.0) for n in ("a.txt", "b.txt", "c.txt")],
            work_queue.PRIORITY_EDIT,
        )
    real = indexer.store.file_by_path

    def file_by_path(path: str) -> Any:
        if path.endswith("b.txt"):
            raise KeyError("a bug in a lookup")
        return real(path)

    monkeypatch.setattr(indexer.store, "file_by_path", file_by_path)
    walkers = {folder_id: FolderWalker(folder, Config().walk)}
    with caplog.at_level(logging.ERROR):
        summary = indexer.index_queued(work_queue.next_batch(indexer.store.conn, 10), walkers)
    assert summary.indexed == 2
    assert work_queue.queue_length(indexer.store.conn) == 0  # never comes back first forever
    assert any("b.txt" in r.getMessage() for r in caplog.records)


def test_a_name_that_is_not_utf8_is_indexed_then_removed_by_scan_and_by_queue(
    tmp_path: Path, folder: Path, passage_tokenizer: PassageTokenizer
) -> None:
    import os

    odd = Path(os.fsdecode(os.fsencode(folder) + b"/caf\xe9-\xff.txt"))
    odd.write_text("A caf\u00e9 menu from an old zip file, about pastries.")
    indexer = _indexer(tmp_path, passage_tokenizer)
    assert indexer.index_folders([folder]).indexed == 4
    assert "pastries" in (indexer.store.file_text(str(odd)) or "")
    odd.unlink()
    assert indexer.index_folders([folder]).removed == 1  # the scan sees it gone
    assert indexer.store.file_by_path(str(odd)) is None
    odd.write_text("Back again, about pastries.")
    indexer.index_folders([folder])
    folder_id = indexer.store.folders()[0][0]
    odd.unlink()
    with indexer.store.transaction() as conn:  # as the watcher queues a deletion
        work_queue.enqueue(conn, [(str(odd), folder_id, 0, 0.0)], work_queue.PRIORITY_EDIT)
    walkers = {folder_id: FolderWalker(folder, Config().walk)}
    summary = indexer.index_queued(work_queue.next_batch(indexer.store.conn, 10), walkers)
    assert summary.removed == 1 and indexer.store.file_by_path(str(odd)) is None
