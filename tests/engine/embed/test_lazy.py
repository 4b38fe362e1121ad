"""The encoder that loads its model on first use: what it knows before, and a failed load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.embed.hashing import HashingEncoder
from engine.embed.lazy import LazyEncoder, ModelLoadError
from engine.embed.model_dir import ModelNotFoundError


def _folder(tmp_path: Path, hidden: int | None = 16) -> Path:
    folder = tmp_path / "tiny-encoder"
    folder.mkdir()
    config = {"model_type": "bert", "max_position_embeddings": 64}
    if hidden is not None:
        config["hidden_size"] = hidden
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_name_and_width_come_from_the_folder_without_loading(tmp_path: Path) -> None:
    loads: list[int] = []

    def load() -> HashingEncoder:
        loads.append(1)
        encoder = HashingEncoder(dim=16)
        encoder.name = "tiny-encoder"
        return encoder

    lazy = LazyEncoder(load, _folder(tmp_path))
    assert (lazy.name, lazy.dim, lazy.max_tokens) == ("tiny-encoder", 16, 64)
    assert not lazy.loaded and lazy.passages_encoded == 0 and loads == []
    assert lazy.describe() == "not loaded yet"

    vectors = lazy.encode_passages(["a lantern", "an orchard"])
    assert vectors.shape == (2, 16) and np.allclose(np.linalg.norm(vectors, axis=1), 1)
    lazy.encode_queries(["lantern"])
    assert lazy.loaded and loads == [1]  # once, however often it is used
    assert lazy.passages_encoded == 2


def test_a_model_that_cannot_load_says_so_every_time_and_loads_once(tmp_path: Path) -> None:
    tries: list[int] = []

    def load() -> HashingEncoder:
        tries.append(1)
        raise OSError("model.safetensors: truncated")

    lazy = LazyEncoder(load, _folder(tmp_path))
    for _ in range(2):
        with pytest.raises(ModelLoadError, match="truncated"):
            lazy.encode_passages(["a lantern"])
    assert tries == [1]


def test_a_loaded_model_of_another_width_is_refused(tmp_path: Path) -> None:
    lazy = LazyEncoder(lambda: HashingEncoder(dim=8), _folder(tmp_path))
    with pytest.raises(ModelLoadError, match="dimensions"):
        lazy.encode_queries(["a lantern"])


def test_a_folder_that_does_not_give_its_width_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="hidden_size"):
        LazyEncoder(lambda: HashingEncoder(dim=16), _folder(tmp_path, hidden=None))
