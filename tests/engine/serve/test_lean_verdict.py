"""`dowse index` leaves the lean query path's verdict, so the first search needs no torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


class _Close:
    """A full encoder that agrees with the lean path at a cosine of about 0.995, as OpenVINO
    int8 agrees with fp32 on this model: fp32's vectors, turned a little."""

    def __init__(self, precision: str, lean: object) -> None:
        self.precision = precision
        self.lean = lean

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        vectors = self.lean.encode_queries(texts)  # type: ignore[attr-defined]
        turned = vectors + 0.1 * np.roll(vectors, 1, axis=1)
        return turned / np.linalg.norm(turned, axis=1, keepdims=True)

    def describe(self) -> str:
        return f"a {self.precision} encoder"


@pytest.mark.parametrize(("precision", "kept"), [("int8", True), ("fp32", False)])
def test_against_int8_the_lean_path_agrees_as_closely_as_int8_must_with_fp32(
    tmp_path: Path, precision: str, kept: bool
) -> None:
    from engine.config import EmbedConfig
    from engine.embed.calibration import INT8_MIN_COSINE, MIN_COSINE
    from engine.embed.lean_bert import LeanQueryEncoder
    from engine.embed.lean_check import check_lean

    config = EmbedConfig()
    path = resolve_model_dir(config.model_path)
    full = _Close(precision, LeanQueryEncoder(path, config))
    verdicts = VerdictCache(tmp_path)
    lean = check_lean(full, config, path, verdicts, "key")  # type: ignore[arg-type]
    verdict = verdicts.get("key")
    assert verdict is not None and INT8_MIN_COSINE <= verdict.min_cosine < MIN_COSINE
    assert (lean is not None) is kept and verdict.passed is kept
