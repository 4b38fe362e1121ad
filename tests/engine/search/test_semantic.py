"""The semantic index on the real model: HNSW recall, crash repair, and model mismatch."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.config import Config, EmbedConfig, IndexConfig
from engine.core import Engine
from engine.embed.model_dir import resolve_model_dir
from engine.embed.transformer import TransformerEncoder
from engine.search.semantic import ModelMismatchError
from engine.vectors import VectorIndex
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.model

SUBJECTS = ["The river", "A young doctor", "Our old car", "The committee", "My neighbour's cat",
            "The telescope", "A storm", "The bakery", "This algorithm", "The orchestra"]
VERBS = ["flooded", "examined", "broke down near", "voted against", "slept beside",
         "photographed", "damaged", "sold bread to", "sorted", "played music for"]
OBJECTS = ["the village", "a patient", "the motorway", "the budget", "the fireplace",
           "a distant galaxy", "the harbour", "the tourists", "a million records",
           "the children", "an empty hall", "the old bridge", "the museum", "a quiet farm",
           "the night shift", "the new school", "a tiny island", "the market", "the garden",
           "the station"]


def sentences() -> list[str]:
    return [f"{s} {v} {o}." for s, v, o in itertools.product(SUBJECTS, VERBS, OBJECTS)]


def test_hnsw_recall_on_real_model_vectors(tmp_path: Path) -> None:
    encoder = TransformerEncoder(EmbedConfig(), tmp_path / "cache")
    texts = sentences()  # 2,000 passages with a real neighbourhood structure
    vectors = encoder.encode_passages(texts)
    queries = encoder.encode_queries([f"what happened to {o}?" for o in OBJECTS] +
                                     [f"news about {s.lower()}" for s in SUBJECTS])
    labels = np.arange(len(texts), dtype=np.int64) * 3 + 1
    index = VectorIndex(tmp_path / "v.hnsw", encoder.dim, IndexConfig())
    index.add(labels, vectors)
    found, _ = index.search(queries, 10)
    exact = labels[np.argsort(-(queries @ vectors.T), axis=1)[:, :10]]
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
    assert recall >= 0.99
    index.save()
    again, _ = VectorIndex.load(tmp_path / "v.hnsw", encoder.dim, IndexConfig()).search(queries, 10)
    np.testing.assert_array_equal(found, again)


CRASHING_INDEXER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from engine.core import Engine
    from engine.vectors import VectorIndex

    def die(self):  # SIGKILL between the SQLite commits and the HNSW save
        os.kill(os.getpid(), signal.SIGKILL)

    VectorIndex.save = die
    Engine(Path(sys.argv[1])).index([Path(sys.argv[2])])
    """
)


def _crash_index(data: Path, docs: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", CRASHING_INDEXER, str(data), str(docs)],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == -9, proc.stderr


def test_index_repaired_after_kill_between_commit_and_save(tmp_path: Path) -> None:
    docs, data = tmp_path / "docs", tmp_path / "data"
    docs.mkdir()
    for i, text in enumerate(sentences()[::40]):
        (docs / f"note{i:02d}.txt").write_text(text)
    engine = Engine(data)
    engine.index([docs])  # a clean, saved index of 50 files
    engine.close()
    gone = [docs / "note00.txt", docs / "note01.txt"]
    for path in gone:
        path.unlink()
    (docs / "extra.txt").write_text("A lighthouse keeper counted the passing ships at dawn.")
    _crash_index(data, docs)  # deletions and the new file committed, HNSW never saved

    engine = Engine(data)
    semantic = engine.semantic  # opening reconciles the HNSW file with SQLite
    rows = engine.store.conn.execute("SELECT id FROM chunks WHERE vector IS NOT NULL").fetchall()
    assert set(semantic.index.labels().tolist()) == {int(r[0]) for r in rows}
    # Killed at the words phase's save point: the new file is findable by its words, and the
    # next run's meaning phase embeds it.
    engine.index([docs])
    rows = engine.store.conn.execute("SELECT id FROM chunks").fetchall()
    assert set(semantic.index.labels().tolist()) == {int(r[0]) for r in rows}
    for (chunk_id, text) in engine.store.conn.execute("SELECT id, text FROM chunks"):
        nearest = [cid for cid, _ in semantic.nearest(text, 3, None)]
        assert chunk_id in nearest
    paths = {r.best.path for r in engine.search("ships lighthouse", "semantic", 60).results}
    assert str(docs / "extra.txt") in paths
    assert not paths & {str(p) for p in gone}
    engine.close()


def test_index_from_another_model_is_refused_with_an_offer(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Bees make honey in the summer.")
    engine = Engine(tmp_path / "data")
    engine.index([docs])
    engine.close()
    other = tmp_path / "other-encoder"
    shutil.copytree(resolve_model_dir(""), other)
    config = Config(embed=EmbedConfig(model_path=str(other)))
    engine = Engine(tmp_path / "data", config)
    with pytest.raises(ModelMismatchError, match="--reindex"):
        engine.search("honey")
    engine.close()
    engine = Engine(tmp_path / "data", config)
    engine.forget_vectors()
    engine.index([docs])  # re-embeds with the configured model
    assert engine.search("honey", "semantic").results[0].best.path == str(docs / "a.txt")
    assert engine.store.get_meta("model_name") == "other-encoder"
    engine.close()


def test_status_and_keys_of_search_json(tmp_path: Path) -> None:
    from engine.cli.render import response_json

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Volcanoes erupt when magma rises to the surface.")
    engine = Engine(tmp_path / "data")
    engine.index([docs])
    answer = json.loads(response_json(engine.search("why do volcanoes erupt")))
    assert set(answer) >= {"query", "mode", "confident", "results"}
    assert answer["confident"] is True
    far = json.loads(response_json(engine.search("quarterly tax filing deadline")))
    assert far["confident"] is False and far["results"]
    engine.close()
