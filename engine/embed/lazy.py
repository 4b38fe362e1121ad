"""An encoder that loads its model on first use, on whichever thread first needs it.

`dowse index` makes the whole folder findable by its words before any passage needs a vector,
so the model (imports, weights, the precision check: about 6 s on 2 cores) need not load
before the words phase starts. The meaning phase's first batch loads it, on the encoder's own
low-priority thread, while files are still being read. Name and dimension come from the
folder's own files, so the index can check them against the store before any work.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.embed.base import Encoder, Vectors
from engine.embed.model_dir import ModelNotFoundError, read_model_info


class ModelLoadError(RuntimeError):
    """The model could not be loaded: no passage can be embedded until that is fixed."""


def model_dim(path: Path) -> int:
    """The width of the folder's hidden states, as its config.json says."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"cannot read {path / 'config.json'}: {exc}") from exc
    dim = config.get("hidden_size") if isinstance(config, dict) else None
    if not isinstance(dim, int) or dim < 1:
        raise ModelNotFoundError(f"{path / 'config.json'} does not give the model's hidden_size")
    return dim


class LazyEncoder:
    """Implements Encoder; the real one is made by `load` the first time it is needed."""

    def __init__(self, load: Callable[[], Encoder], path: Path) -> None:
        info = read_model_info(path)
        self.name = info.name
        self.max_tokens = info.max_tokens
        self.dim = model_dim(path)
        self._load = load
        self._lock = threading.Lock()
        self._real: Encoder | None = None
        self._failed: ModelLoadError | None = None

    @property
    def loaded(self) -> bool:
        return self._real is not None

    @property
    def side_by_side(self) -> bool:
        """The real encoder's, once loaded; False before (nothing is loaded to ask)."""
        return bool(getattr(self._real, "side_by_side", False))

    def real(self) -> Encoder:
        """The loaded encoder; ModelLoadError (every time after the first) if it cannot load."""
        with self._lock:
            if self._real is None:
                if self._failed is not None:
                    raise self._failed
                try:
                    real = self._load()
                except Exception as exc:
                    self._failed = ModelLoadError(f"cannot load the model {self.name}: {exc}")
                    raise self._failed from exc
                if real.dim != self.dim or real.name != self.name:
                    self._failed = ModelLoadError(
                        f"the model loaded as {real.name} ({real.dim} dimensions), but its "
                        f"folder says {self.name} ({self.dim})"
                    )
                    raise self._failed
                self._real = real
            return self._real

    # Encoder's attributes, read from (and written to) the real one, loaded for it.
    @property
    def device(self) -> str:
        return self.real().device

    @device.setter
    def device(self, value: str) -> None:
        self.real().device = value

    @property
    def precision(self) -> str:
        return self.real().precision

    @precision.setter
    def precision(self, value: str) -> None:
        self.real().precision = value

    @property
    def passages_encoded(self) -> int:
        return self._real.passages_encoded if self._real is not None else 0

    @passages_encoded.setter
    def passages_encoded(self, value: int) -> None:
        self.real().passages_encoded = value

    def encode_passages(self, texts: Sequence[str]) -> Vectors:
        return self.real().encode_passages(texts)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self.real().encode_queries(texts)

    def describe(self) -> str:
        return self.real().describe() if self._real is not None else "not loaded yet"

    def close(self) -> None:
        """Stops the real encoder's child process, if it has one; loads nothing."""
        stop = getattr(self._real, "close", None) if self._real is not None else None
        if stop is not None:
            stop()

    def __getattr__(self, name: str) -> Any:
        """Anything else the real encoder has (token_states, the torch model, …)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.real(), name)
