"""A plain BERT encoder built from its folder's safetensors with torch alone.

Importing transformers' BertModel adds 122 MB to a process that already holds torch and the
tokenizer (277 -> 399 MB on Python 3.11 with transformers 5), the largest share of
`dowse index`'s peak after torch itself. This module builds the same network, under the same
parameter names (`embeddings.word_embeddings`, `encoder.layer[i].attention.self.query`, ...),
so FastBert, FusedBert, OpenVINO's conversion, the precision change and integrated gradients
work on it as they do on transformers' model. Only folders lean_bert.supported() accepts are
built here, and only when the file holds exactly the network's weights with the shapes its
config gives; the built network must then give the states of the numpy forward (lean_bert.py),
which reads the same file on its own, before it is used. Anything else goes to transformers
(hf_model.load_model).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.config import EmbedConfig
from engine.embed.lean_bert import WEIGHTS_FILE, LeanQueryEncoder, supported
from engine.embed.model_dir import read_json

log = logging.getLogger(__name__)
__all__ = ["PlainBert", "load_plain_bert"]

# Weights the file may hold that this encoder does not use: BertModel's pooler, its position
# buffer, and the heads of task checkpoints (BertForMaskedLM's "cls.", ...).
_NETWORK_PREFIXES = ("embeddings.", "encoder.")
_UNUSED = ("embeddings.position_ids",)
# The built network against the numpy forward, per token state, fp32 both (measured 1.000000).
CHECK_MIN_COSINE = 0.99999
CHECK_TEXTS = ("Aspirin lowers the risk of a second heart attack.",
               "How do I read a file line by line in Python?")
class _Weights:
    """The file's network weights, handed out once each with the shape the config gives.

    The layers take these tensors as their parameters, so nothing is initialised at random and
    nothing is copied. (torch's own layers on the meta device would avoid the initialisation
    too, but meta tensors import torch._dynamo: 2.2 s, and its memory.)"""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.tensors = tensors
        self.taken: set[str] = set()

    def __call__(self, name: str, *shape: int) -> nn.Parameter:
        tensor = self.tensors.get(name)
        if tensor is None:
            raise ValueError(f"no {name}")
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} is {tuple(tensor.shape)}, not {shape}")
        self.taken.add(name)
        return nn.Parameter(tensor, requires_grad=False)


class _Linear(nn.Module):
    def __init__(self, take: _Weights, name: str, width_in: int, width_out: int) -> None:
        super().__init__()
        self.weight = take(f"{name}.weight", width_out, width_in)
        self.bias = take(f"{name}.bias", width_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class _LayerNorm(nn.Module):
    def __init__(self, take: _Weights, name: str, c: SimpleNamespace) -> None:
        super().__init__()
        self.weight = take(f"{name}.weight", c.hidden_size)
        self.bias = take(f"{name}.bias", c.hidden_size)
        self.eps = float(c.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class _Embedding(nn.Module):
    def __init__(self, take: _Weights, name: str, rows: int, width: int) -> None:
        super().__init__()
        self.weight = take(f"{name}.weight", rows, width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight)


class _Embeddings(nn.Module):
    def __init__(self, take: _Weights, c: SimpleNamespace) -> None:
        super().__init__()
        p, width = "embeddings.", c.hidden_size
        self.word_embeddings = _Embedding(take, p + "word_embeddings", c.vocab_size, width)
        self.position_embeddings = _Embedding(
            take, p + "position_embeddings", c.max_position_embeddings, width)
        self.token_type_embeddings = _Embedding(
            take, p + "token_type_embeddings", c.type_vocab_size, width)
        self.LayerNorm = _LayerNorm(take, p + "LayerNorm", c)

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        # Every token is segment 0 and positions count from 0, as in BertModel without them.
        length = embeds.shape[1]
        x = embeds + self.position_embeddings.weight[:length] + self.token_type_embeddings.weight[0]
        out: torch.Tensor = self.LayerNorm(x)
        return out


class _SelfAttention(nn.Module):
    def __init__(self, take: _Weights, p: str, c: SimpleNamespace) -> None:
        super().__init__()
        self.heads = int(c.num_attention_heads)
        width = c.hidden_size
        self.query = _Linear(take, p + "query", width, width)
        self.key = _Linear(take, p + "key", width, width)
        self.value = _Linear(take, p + "value", width, width)

    def forward(self, x: torch.Tensor, attend: torch.Tensor | None) -> torch.Tensor:
        batch, length, width = x.shape

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, width // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)
        return context.transpose(1, 2).reshape(batch, length, width)


class _Output(nn.Module):
    """A projection, then the residual and a layer norm (BertSelfOutput and BertOutput)."""

    def __init__(self, take: _Weights, p: str, c: SimpleNamespace, width_in: int) -> None:
        super().__init__()
        self.dense = _Linear(take, p + "dense", width_in, c.hidden_size)
        self.LayerNorm = _LayerNorm(take, p + "LayerNorm", c)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.LayerNorm(self.dense(x) + residual)
        return out


class _Attention(nn.Module):
    def __init__(self, take: _Weights, p: str, c: SimpleNamespace) -> None:
        super().__init__()
        self.self = _SelfAttention(take, p + "self.", c)
        self.output = _Output(take, p + "output.", c, c.hidden_size)

    def forward(self, x: torch.Tensor, attend: torch.Tensor | None) -> torch.Tensor:
        out: torch.Tensor = self.output(self.self(x, attend), x)
        return out


class _Intermediate(nn.Module):
    def __init__(self, take: _Weights, p: str, c: SimpleNamespace) -> None:
        super().__init__()
        self.dense = _Linear(take, p + "dense", c.hidden_size, c.intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))  # erf GELU: BERT's "gelu"


class _Layer(nn.Module):
    def __init__(self, take: _Weights, p: str, c: SimpleNamespace) -> None:
        super().__init__()
        self.attention = _Attention(take, p + "attention.", c)
        self.intermediate = _Intermediate(take, p + "intermediate.", c)
        self.output = _Output(take, p + "output.", c, c.intermediate_size)

    def forward(self, x: torch.Tensor, attend: torch.Tensor | None) -> torch.Tensor:
        x = self.attention(x, attend)
        out: torch.Tensor = self.output(self.intermediate(x), x)
        return out


class _Encoder(nn.Module):
    def __init__(self, take: _Weights, c: SimpleNamespace) -> None:
        super().__init__()
        self.layer = nn.ModuleList(
            _Layer(take, f"encoder.layer.{i}.", c) for i in range(int(c.num_hidden_layers)))


class PlainBert(nn.Module):
    """BertModel's last hidden states, called as transformers' model is called here."""

    def __init__(self, config: SimpleNamespace, take: _Weights) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(take, config)
        self.encoder = _Encoder(take, config)

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.word_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> SimpleNamespace:
        if inputs_embeds is None:
            if input_ids is None:
                raise ValueError("PlainBert needs input_ids or inputs_embeds")
            inputs_embeds = self.embeddings.word_embeddings(input_ids)
        x = self.embeddings(inputs_embeds)
        attend = None
        if attention_mask is not None and not bool(attention_mask.all()):
            attend = attention_mask.bool()[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, attend)
        return SimpleNamespace(last_hidden_state=x)


def _config(path: Path) -> SimpleNamespace:
    raw = read_json(path / "config.json")
    defaults = {"layer_norm_eps": 1e-12, "type_vocab_size": 2, "max_position_embeddings": 512,
                "position_embedding_type": "absolute", "is_decoder": False}
    return SimpleNamespace(**{**defaults, **raw})


def _network_weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    weights = {}
    for key, tensor in load_file(str(path / WEIGHTS_FILE)).items():
        name = key.removeprefix("bert.")
        if name.startswith(_NETWORK_PREFIXES) and name not in _UNUSED:
            weights[name] = tensor.to(torch.float32)
    return weights


def _build(path: Path) -> PlainBert | None:
    """The network with the file's weights, or None when they are not exactly its own."""
    try:
        config = _config(path)
        take = _Weights(_network_weights(path))
        model = PlainBert(config, take)
        extra = sorted(set(take.tensors) - take.taken)
        if extra:  # weights of a part this network does not have
            raise ValueError(f"{', '.join(extra[:3])} not used")
    except (OSError, ValueError, TypeError, AttributeError, RuntimeError) as exc:
        log.info("plain BERT cannot load %s (%s): loading it with transformers", path, exc)
        return None
    return model.eval()


def _agrees_with_numpy(model: PlainBert, path: Path) -> bool:
    """The built network's states against lean_bert's forward, which reads the file itself."""
    try:
        reference = LeanQueryEncoder(path, EmbedConfig(pooling="mean"))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # e.g. bf16 weights: numpy has none
        log.info("no numpy forward to check plain BERT against on %s (%s): "
                 "loading it with transformers", path, exc)
        return False
    worst = 1.0
    for text in CHECK_TEXTS:
        ids = reference.token_ids(text)
        want = reference.states(ids)
        with torch.inference_mode():
            got = model(input_ids=torch.from_numpy(ids)[None]).last_hidden_state[0].numpy()
        dots = (got * want).sum(1) / np.maximum(
            np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1), 1e-12)
        worst = min(worst, float(dots.min()))
    if worst < CHECK_MIN_COSINE:
        log.warning("plain BERT disagrees with the numpy forward on %s (min cosine %.6f): "
                    "loading it with transformers", path, worst)
        return False
    return True


def load_plain_bert(path: Path) -> Any:
    """The folder's encoder in fp32 without transformers, or None where transformers must load
    it (another architecture, another weight file, or weights this network does not match)."""
    if not supported(path):
        return None
    model = _build(path)
    if model is None or not _agrees_with_numpy(model, path):
        return None
    return model
