"""`dowse index` leaves the lean query path's verdict, so the first search needs no torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core import Engine
from engine.embed.calibration import VerdictCache
from engine.embed.lean_check import lean_key
from engine.embed.model_dir import resolve_model_dir
from engine.serve.embed_child import ChildModels
from tests.helpers.documents import write_txt

pytestmark = pytest.mark.model


def test_indexing_checks_the_lean_path_for_the_embedding_child(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    write_txt(root / "lantern.txt", "The keeper trimmed the copper lantern every evening.")
    data = tmp_path / "data"
    engine = Engine(data)
    try:
        config = engine.config.embed
        key = lean_key(config, resolve_model_dir(config.model_path))
        assert VerdictCache(data / "cache").get(key) is None  # a new data dir
        assert engine.index([root]).embedded == 1
    finally:
        engine.close()
    verdict = VerdictCache(data / "cache").get(key)
    assert verdict is not None and verdict.passed
    # The child started for the first search answers on the lean path, without the full
    # encoder (torch) in its way.
    models = ChildModels(config, data / "cache")
    models.start()
    assert models.info()["queries"] == "lean"
