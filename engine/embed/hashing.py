"""A tiny deterministic encoder for tests that are about something other than the model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from engine.embed.base import Vectors

_WORD = re.compile(r"\w+")


class HashingEncoder:
    """Bag of words hashed into `dim` signed buckets: the same words give similar vectors."""

    device = "cpu"
    precision = "fp32"

    def __init__(self, dim: int = 64, max_tokens: int = 256) -> None:
        if dim < 1:
            raise ValueError("dim must be positive")
        self.name = f"hashing-{dim}"
        self.dim = dim
        self.max_tokens = max_tokens
        self.passages_encoded = 0

    def encode_passages(self, texts: Sequence[str]) -> Vectors:
        self.passages_encoded += len(texts)
        return self._encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)

    def describe(self) -> str:
        return f"CPU fp32, hashing {self.dim}"

    def _encode(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower())[: self.max_tokens]:
                # blake2b, not hash(): Python salts str hashes per process.
                digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self.dim] += 1.0 if (value >> 63) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out
