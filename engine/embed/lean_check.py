"""Whether the lean numpy query path (engine/embed/lean_bert.py) agrees with the full encoder.

Checked once per model folder and settings, on the calibration texts, and the verdict cached
beside the precision check. The embedding child (engine/serve/embed_child.py) starts on the
lean path only once a verdict says it agrees; before that it loads the full encoder (torch)
and checks. `dowse index` has the full encoder loaded anyway, so it records the verdict at its
end: the first `dowse search` after indexing a new data dir took 4.9 s on python3-doc while
its child loaded torch and checked, against well under a second on the lean path.
"""

from __future__ import annotations

import hashlib
import logging
import platform
from importlib import metadata
from pathlib import Path

from engine.config import EmbedConfig
from engine.embed.base import Encoder
from engine.embed.calibration import (
    CALIBRATION_TEXTS,
    INT8_MIN_COSINE,
    MIN_COSINE,
    Verdict,
    VerdictCache,
    folder_fingerprint,
    min_cosine,
)
from engine.embed.lean_bert import LeanQueryEncoder, supported
from engine.embed.model_dir import read_model_info, resolve_model_dir

log = logging.getLogger(__name__)


def lean_key(config: EmbedConfig, path: Path) -> str:
    """What the lean path's verdict depends on: the folder, the settings, torch's version."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "none"
    texts = hashlib.sha256("\x00".join(CALIBRATION_TEXTS).encode()).hexdigest()[:8]
    settings = (config.device, config.precision, config.pooling, str(config.normalize),
                config.query_prefix)
    return " | ".join(("lean-query", read_model_info(path).name, folder_fingerprint(path),
                       *settings, f"torch {torch_version}", platform.machine(), f"set {texts}"))


def check_lean(
    full: Encoder, config: EmbedConfig, path: Path, verdicts: VerdictCache, key: str
) -> LeanQueryEncoder | None:
    """Compare the lean path with `full` and cache the verdict; the lean path if it agrees.

    The lean path is fp32: against an int8 encoder (the default on a CPU without bf16 units,
    where the int8 extra is installed) it agrees as closely as fp32 does, 0.996 on this model,
    so there the bound is int8's own; against 0.999 the child loaded the full encoder for
    every query on exactly the laptops int8 is for."""
    lean = LeanQueryEncoder(path, config)
    cosine = min_cosine(full.encode_queries(CALIBRATION_TEXTS),
                        lean.encode_queries(CALIBRATION_TEXTS))
    passed = cosine >= (INT8_MIN_COSINE if full.precision == "int8" else MIN_COSINE)
    verdicts.put(key, Verdict(cosine, passed, from_cache=False))
    log.info("lean query path vs %s: min cosine %.6f", full.describe(), cosine)
    return lean if passed else None


def record_lean_verdict(full: Encoder, config: EmbedConfig, cache_dir: Path | None) -> None:
    """Check the lean path against `full` unless a verdict is cached (or it has none)."""
    path = resolve_model_dir(config.model_path)
    if not supported(path):
        return
    verdicts = VerdictCache(cache_dir)
    key = lean_key(config, path)
    if verdicts.get(key) is None:
        check_lean(full, config, path, verdicts, key)
