"""The interface every encoder offers, so the indexer and search never depend on torch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Turns passages and queries into float32 (n, dim) vectors, in input order.

    Rows are L2-normalised when the model normalises. `passages_encoded` counts every passage
    text embedded so far, for the engine's statistics.
    """

    name: str
    dim: int
    device: str  # "cpu" | "cuda" | "mps"
    precision: str  # "fp32" | "bf16" | "fp16"
    max_tokens: int  # including special tokens
    passages_encoded: int

    def encode_passages(self, texts: Sequence[str]) -> Vectors: ...

    def encode_queries(self, texts: Sequence[str]) -> Vectors: ...

    def describe(self) -> str:
        """Where and how it runs, for people: "CPU bf16 (AMX)", "CUDA fp16, NVIDIA H100"."""
        ...
