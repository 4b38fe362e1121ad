"""Query vectors from a BERT encoder in plain numpy, so a fresh embedding child answers in ms.

Importing torch and transformers' BERT takes 2 to 3 s on a 2-core machine; this reads the same
safetensors weights and tokenizer.json and runs the same fp32 arithmetic as the model's own
forward (mean or CLS pooling, then L2 normalisation). It is used for queries only, and only
after it has agreed with the full encoder on the calibration texts (engine/serve/embed_child).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.config import EmbedConfig
from engine.embed.base import Vectors
from engine.embed.model_dir import read_model_info

WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
F32 = npt.NDArray[np.float32]


def _erf(x: F32) -> F32:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none, and scipy is not ours."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (
        -1.453152027 + t * 1.061405429))))
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)  # type: ignore[no-any-return]


def _layer_norm(x: F32, weight: F32, bias: F32, eps: float) -> F32:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias  # type: ignore[no-any-return]


def supported(path: Path) -> bool:
    """Whether the folder holds a plain BERT encoder with safetensors weights."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        config.get("model_type") == "bert"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and config.get("hidden_act") == "gelu"
        and not config.get("is_decoder", False)
        and (path / WEIGHTS_FILE).is_file()
        and (path / TOKENIZER_FILE).is_file()
    )


class LeanQueryEncoder:
    """encode_queries() of a BERT folder, in numpy fp32, one query at a time."""

    def __init__(self, path: Path, config: EmbedConfig) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        if not supported(path):
            raise ValueError(f"no plain BERT encoder with safetensors weights in {path}")
        settings = json.loads((path / "config.json").read_text(encoding="utf-8"))
        info = read_model_info(path)
        self.name = info.name
        self.max_tokens = info.max_tokens
        self.pooling = config.pooling if config.pooling != "auto" else (info.pooling or "mean")
        self.normalize = bool(info.normalize) or config.normalize
        self.prefix = config.query_prefix
        self.heads = int(settings["num_attention_heads"])
        self.eps = float(settings.get("layer_norm_eps", 1e-12))
        self.dim = int(settings["hidden_size"])
        self._tokenizer: Any = Tokenizer.from_file(str(path / TOKENIZER_FILE))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_tokens)
        raw = load_file(str(path / WEIGHTS_FILE))
        weights = {k.removeprefix("bert."): v.astype(np.float32, copy=False)
                   for k, v in raw.items()}
        self._word = weights["embeddings.word_embeddings.weight"]
        self._position = weights["embeddings.position_embeddings.weight"]
        self._token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self._emb_norm = (weights["embeddings.LayerNorm.weight"],
                          weights["embeddings.LayerNorm.bias"])
        self._layers = [self._layer(weights, f"encoder.layer.{i}.")
                        for i in range(int(settings["num_hidden_layers"]))]

    @staticmethod
    def _layer(w: dict[str, F32], p: str) -> tuple[F32, ...]:
        att = p + "attention."
        qkv = np.concatenate([w[att + f"self.{n}.weight"] for n in ("query", "key", "value")])
        qkv_bias = np.concatenate([w[att + f"self.{n}.bias"] for n in ("query", "key", "value")])
        return (
            qkv.T, qkv_bias,
            w[att + "output.dense.weight"].T, w[att + "output.dense.bias"],
            w[att + "output.LayerNorm.weight"], w[att + "output.LayerNorm.bias"],
            w[p + "intermediate.dense.weight"].T,
            w[p + "intermediate.dense.bias"],
            w[p + "output.dense.weight"].T, w[p + "output.dense.bias"],
            w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"],
        )

    def token_ids(self, text: str) -> npt.NDArray[np.int64]:
        """One text's word-piece ids with its special tokens, cut at the model's length."""
        return np.asarray(self._tokenizer.encode(text).ids, dtype=np.int64)

    def states(self, ids: npt.NDArray[np.int64]) -> F32:
        """Last-layer states of one unpadded sequence: BertModel's arithmetic in fp32."""
        return self._forward(ids)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            states = self._forward(self.token_ids(self.prefix + text))
            pooled = states[0] if self.pooling == "cls" else states.mean(0)
            if self.normalize:
                pooled = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            out[row] = pooled
        return out

    def _forward(self, ids: npt.NDArray[np.int64]) -> F32:
        """Last-layer states of one unpadded sequence: BertModel's arithmetic in fp32."""
        n, width, heads = len(ids), self.dim, self.heads
        x = self._word[ids] + self._position[:n] + self._token_type
        x = _layer_norm(x, *self._emb_norm, self.eps)
        scale = np.float32(1.0 / np.sqrt(width // heads))
        for (qkv_w, qkv_b, out_w, out_b, n1_w, n1_b, up_w, up_b, down_w, down_b, n2_w,
             n2_b) in self._layers:
            qkv = (x @ qkv_w + qkv_b).reshape(n, 3, heads, width // heads).transpose(1, 2, 0, 3)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 2, 1)) * scale
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, width)
            x = _layer_norm(context @ out_w + out_b + x, n1_w, n1_b, self.eps)
            up: F32 = x @ up_w + up_b
            up = np.float32(0.5) * up * (np.float32(1.0) + _erf(up / np.float32(np.sqrt(2.0))))
            x = _layer_norm(up @ down_w + down_b + x, n2_w, n2_b, self.eps)
        return x
