"""Indexing in two phases: a file is findable by its words before its passages are embedded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from engine.core import Engine
from engine.ingest.indexer import Indexer
from engine.ingest.meaning import MeaningStage
from engine.search.semantic import SemanticIndex
from engine.store.pending_vectors import passage_count, pending_count
from tests.helpers.documents import write_txt

pytestmark = pytest.mark.model  # the real model embeds; the real tokenizer cuts

LANTERN = ("The lighthouse keeper trimmed the copper lantern every evening before the "
           "fishing boats came home across the grey harbour.")
ORCHARD = ("Apple trees in the old orchard were grafted with pear branches by a patient "
           "gardener who kept notes on every season.")


def _vectors(engine: Engine, path: Path) -> list[bytes]:
    rows = engine.store.conn.execute(
        "SELECT c.vector FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = ?"
        " ORDER BY c.ordinal", (str(path),),
    )
    return [bytes(r[0]) for r in rows]


def _lantern_and_orchard(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    write_txt(root / "lantern.txt", LANTERN)
    write_txt(root / "orchard.txt", ORCHARD)
    return root


def test_a_file_is_found_by_its_words_before_its_meaning(tmp_path: Path) -> None:
    root = _lantern_and_orchard(tmp_path)
    engine = Engine(tmp_path / "data")
    try:
        # The words phase alone: the indexer records, nothing drives the meaning phase.
        Indexer(engine.store, engine.config, engine.tokenizer, engine.semantic).index_folders(
            [root]
        )
        conn = engine.store.conn
        assert pending_count(conn) == passage_count(conn) > 0
        hits = engine.search("copper lantern", mode="keyword").results
        assert hits and hits[0].best.path == str(root / "lantern.txt")
        hybrid = engine.search("copper lantern", mode="hybrid")
        assert hybrid.semantic_coverage == 0.0  # said so: these were found by their words
        assert hybrid.results[0].best.path == str(root / "lantern.txt")
        assert engine.search("fruit grower", mode="semantic").results == []

        assert MeaningStage(engine.store, engine.semantic).drain() == passage_count(conn)
        assert pending_count(conn) == 0
        found = engine.search("someone who grows fruit", mode="semantic").results
        assert found[0].best.path == str(root / "orchard.txt")
    finally:
        engine.close()


def test_an_exact_passage_is_embedded_once_across_files(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    write_txt(root / "a.txt", LANTERN)
    write_txt(root / "copy of a.txt", LANTERN)
    write_txt(root / "b.txt", ORCHARD)
    engine = Engine(tmp_path / "data")
    try:
        first = engine.index([root])
        assert (first.indexed, first.passages) == (3, 3)
        assert first.embedded == 2  # two distinct texts went through the encoder
        assert _vectors(engine, root / "a.txt") == _vectors(engine, root / "copy of a.txt")

        # A later copy, a version of a file beside its source: its words and its vectors at
        # once, from the passages already embedded, with nothing for the encoder.
        (root / "sub").mkdir()
        write_txt(root / "sub" / "again.txt", LANTERN)
        later = engine.index([root])
        assert (later.indexed, later.embedded, later.reused) == (1, 0, 1)
        assert pending_count(engine.store.conn) == 0
        assert _vectors(engine, root / "sub" / "again.txt") == _vectors(engine, root / "a.txt")
        results = engine.search("lighthouse lamp", mode="semantic").results
        assert {str(root / "a.txt"), str(root / "copy of a.txt"),
                str(root / "sub" / "again.txt")} <= {
            p for r in results for p in [r.best.path, *(c.path for c in r.also_in)]}
    finally:
        engine.close()


class _RefusingVectors:
    """The real semantic side, except that the encoder raises on one poisoned text."""

    def __init__(self, semantic: SemanticIndex) -> None:
        self.semantic = semantic

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if any("poison" in t for t in texts):
            raise RuntimeError("the encoder refused this batch")
        return self.semantic.embed_passages(texts)

    def __getattr__(self, name: str) -> object:
        return getattr(self.semantic, name)


def test_a_passage_the_encoder_refuses_stays_findable_by_its_words(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    write_txt(root / "good.txt", ORCHARD)
    write_txt(root / "bad.txt", "A poison pen letter arrived at the manor in March.")
    engine = Engine(tmp_path / "data")
    try:
        vectors = _RefusingVectors(engine.semantic)
        Indexer(engine.store, engine.config, engine.tokenizer, vectors).index_folders([root])
        stage = MeaningStage(engine.store, vectors)
        assert stage.drain() == 1  # the good passage; the poisoned one alone is left out
        assert pending_count(engine.store.conn) == 1
        assert stage.step() == 0  # not tried again in this run: no endless retry
        hits = engine.search("poison pen", mode="keyword").results
        assert hits[0].best.path == str(root / "bad.txt")
    finally:
        engine.close()


def test_a_model_that_cannot_load_stops_the_meaning_phase_not_the_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dowse index` loads the model on the meaning phase's thread, after the words started:
    a model that fails there stops the run with that error, every file is kept findable by
    its words, and no passage is marked as refused (a later run embeds them all)."""
    import engine.embed.transformer as transformer
    from engine.embed.lazy import ModelLoadError

    def broken(*_: object) -> None:
        raise OSError("model.safetensors: truncated")

    monkeypatch.setattr(transformer, "load_encoder", broken)
    root = _lantern_and_orchard(tmp_path)
    engine = Engine(tmp_path / "data")
    try:
        with pytest.raises(ModelLoadError, match="truncated"):
            engine.index([root])
        conn = engine.store.conn
        assert pending_count(conn) == passage_count(conn) == 2
        hits = engine.search("copper lantern", mode="keyword").results
        assert hits[0].best.path == str(root / "lantern.txt")
    finally:
        engine.close()
    monkeypatch.undo()
    again = Engine(tmp_path / "data")
    try:
        summary = again.index([root])
        assert summary.embedded == 2 and pending_count(again.store.conn) == 0
    finally:
        again.close()
