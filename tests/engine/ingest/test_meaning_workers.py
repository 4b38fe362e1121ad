"""The meaning phase's encoder workers: pinned threads embed side by side, and agree."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from engine.core import Engine
from engine.embed.threads import pin_this_thread, pinned_threads
from engine.ingest import meaning
from engine.ingest.indexer import Indexer
from engine.ingest.meaning import MeaningProgress, MeaningStage
from engine.store.pending_vectors import passage_count, pending_count
from engine.store.vector_blobs import decode_vectors
from tests.helpers.documents import write_txt


def test_a_pin_holds_for_its_own_thread_only() -> None:
    seen: list[int | None] = []

    def worker() -> None:
        pin_this_thread(0)  # never below one thread
        seen.append(pinned_threads())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [1]
    assert pinned_threads() is None  # this (unpinned) thread still goes through the tuner


def test_the_busy_clock_counts_overlapping_work_once() -> None:
    progress = MeaningProgress()
    clock = meaning._BusyClock(progress)
    gate = threading.Barrier(2)

    def work() -> None:
        with clock:
            gate.wait()
            time.sleep(0.2)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Two workers busy side by side for 0.2 s: 0.2 s of the phase, not 0.4 (the ETA's rate).
    assert 0.19 <= progress.seconds < 0.35


@pytest.mark.model
def test_two_workers_embed_what_one_embeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    topics = ["copper lanterns in a harbour", "grafting pear branches onto apple trees",
              "tax returns filed late", "the migration of arctic terns", "sourdough starters"]
    for i in range(40):  # five batches of 8: both workers hold one at once
        write_txt(root / f"note{i}.txt", f"Note {i} is about {topics[i % 5]}, number {i}.")
    vectors: dict[int, list[bytes]] = {}
    for workers in (1, 2):
        monkeypatch.setattr(meaning, "ENCODER_WORKERS", workers)
        engine = Engine(tmp_path / f"data{workers}")
        try:
            Indexer(engine.store, engine.config, engine.tokenizer,
                    engine.semantic).index_folders([root])
            engine.semantic.embed_passages(["loaded first, so the workers may go side by side"])
            assert engine.semantic.encodes_side_by_side() == (engine.semantic.encoder.device
                                                             == "cpu")
            stage = MeaningStage(engine.store, engine.semantic, batch_passages=8)
            try:
                assert stage.drain() == passage_count(engine.store.conn) == 40
                side_by_side = engine.semantic.encodes_side_by_side()
                assert set(stage._pools) == {workers if side_by_side else 1}
            finally:
                stage.close()
            assert pending_count(engine.store.conn) == 0
            rows = engine.store.conn.execute(
                "SELECT c.vector FROM chunks c JOIN files f ON f.id = c.file_id ORDER BY f.path")
            vectors[workers] = [bytes(r[0]) for r in rows]
            top = engine.search("birds that fly to the arctic", mode="semantic").results[0]
            assert "terns" in top.best.text
        finally:
            engine.close()
    one, two = (decode_vectors(vectors[w], 384) for w in (1, 2))
    assert float((one * two).sum(1).min()) > 0.999  # bf16 batches differ only in rounding


def test_the_meaning_phase_runs_beside_the_words_only_on_free_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(meaning.os, "sched_getaffinity", lambda _pid: set(range(2)), raising=False)
    assert not meaning.overlaps_words(2)  # 2 cores: two extraction children and the recorder
    monkeypatch.setattr(meaning.os, "sched_getaffinity", lambda _pid: set(range(16)))
    assert meaning.overlaps_words(4)


@pytest.mark.model  # the real tokenizer cuts; the encoder is the hashing one
def test_on_a_busy_machine_nothing_is_embedded_until_every_file_is_findable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.embed.hashing import HashingEncoder
    from engine.ingest import ocr_stage
    from engine.search.semantic import SemanticIndex

    monkeypatch.setattr(ocr_stage, "overlaps_words", lambda _readers: False)
    root = tmp_path / "docs"
    root.mkdir()
    for i in range(12):
        write_txt(root / f"note {i}.txt", f"Note {i} on the harbour lanterns and their keepers.")
    engine = Engine(tmp_path / "data")
    findable: list[int] = []  # files with passages, at each call to the encoder

    class Watching(HashingEncoder):
        def encode_passages(self, texts):  # type: ignore[no-untyped-def]
            with sqlite3.connect(tmp_path / "data" / "dowse.sqlite3") as conn:
                findable.append(conn.execute(
                    "SELECT count(DISTINCT file_id) FROM chunks").fetchone()[0])
            return super().encode_passages(texts)

    semantic = SemanticIndex(engine.store, Watching(384), engine.data_dir, engine.config.index)
    try:
        summary = ocr_stage.index_folders_with_ocr(
            engine.store, engine.config, engine.tokenizer, semantic, None, [root])
        assert summary.indexed == 12 and pending_count(engine.store.conn) == 0
        assert findable and min(findable) == 12
    finally:
        semantic.close()
        engine.close()
