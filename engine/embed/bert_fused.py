"""The lean BERT forward with oneDNN's fused linear layers, because on CPUs the passes between
matrix products cost as much as the products.

A torch profile of FastBert on one 2,048-token bf16 batch (2 cores, AMX) put 37% of the time in
the matrix products and about as much in separate passes over the activations: copying each
bias into the output before the product, GELU, the residual adds. oneDNN can do the bias, GELU
and residual add inside the product (post-ops) on weights it reordered once into its own
blocked layout, which leaves the layer norms and attention as the only other passes. On a
loaded machine the fewer parallel regions matter more: each is a barrier that waits for a
thread that lost its core. With width-bucketed batches (batching.py) it ran 1.36x to 1.40x
the earlier FastBert path in bf16 (bench/embed_throughput.py --before); in fp32 on AVX2 it
is no faster (0.96x with the buckets' padding): there the products are all the time. The
encoder checks this forward against the model's own when it loads, as it checks FastBert,
and falls back to FastBert when it is unavailable, fails or disagrees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.embed.bert_fast import FastBert

log = logging.getLogger(__name__)

# Number formats whose fused linear oneDNN runs on x86 CPUs (fp16 stays on FastBert).
DTYPES = (torch.float32, torch.bfloat16)


@dataclass(frozen=True)
class _PackedLayer:
    qkv: tuple[torch.Tensor, torch.Tensor]  # (weight in oneDNN's layout, bias)
    out: tuple[torch.Tensor, torch.Tensor]
    attn_norm: tuple[torch.Tensor, torch.Tensor]
    up: tuple[torch.Tensor, torch.Tensor]
    down: tuple[torch.Tensor, torch.Tensor]
    ffn_norm: tuple[torch.Tensor, torch.Tensor]


def available(fast: FastBert) -> bool:
    """Whether this torch has oneDNN's fused linear ops for FastBert's device and dtype."""
    ops = getattr(torch.ops, "mkldnn", None)
    return (
        torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]
        and fast.word.device.type == "cpu"
        and fast.word.dtype in DTYPES
        and all(hasattr(ops, name) for name in ("_linear_pointwise", "_reorder_linear_weight"))
    )


def _pack(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), None), bias.detach()


class FusedBert:
    """FastBert's arithmetic, with bias, GELU and residual adds fused into oneDNN's linear.

    The embeddings and layer norms stay FastBert's tensors (shared with the model); the four
    weight matrices of each layer are copied once into oneDNN's layout.
    """

    def __init__(self, fast: FastBert) -> None:
        if not available(fast):
            raise ValueError("oneDNN's fused linear is not available for this model")
        self.fast = fast
        self.layers = [
            _PackedLayer(
                _pack(layer.qkv_weight, layer.qkv_bias),
                _pack(layer.out_weight, layer.out_bias),
                layer.attn_norm,
                _pack(layer.up_weight, layer.up_bias),
                _pack(layer.down_weight, layer.down_bias),
                layer.ffn_norm,
            )
            for layer in fast.layers
        ]

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(batch, tokens, hidden) states; `mask` is 1 for real tokens, 0 for padding."""
        linear = torch.ops.mkldnn._linear_pointwise
        fast = self.fast
        batch, length = ids.shape
        width, heads, eps = fast.hidden, fast.heads, fast.eps
        x = F.embedding(ids, fast.word) + fast.position[:length] + fast.token_type
        x = F.layer_norm(x, (width,), *fast.emb_norm, eps).reshape(batch * length, width)
        attend = None
        if not bool(mask.all()):
            # An additive mask: SDPA's CPU kernel ran a 16 x 128 bf16 batch in 3.6 ms with it
            # against 4.2 ms with a boolean one. Every row keeps its [CLS], so none is all -inf.
            attend = torch.zeros(mask.shape, dtype=x.dtype).masked_fill_(
                mask == 0, float("-inf")
            )[:, None, None, :]
        for layer in self.layers:
            qkv = linear(x, *layer.qkv, "none", [], "")
            q, k, v = qkv.view(batch, length, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)
            context = context.transpose(1, 2).reshape(batch * length, width)
            x = F.layer_norm(
                linear.binary(context, x, *layer.out, "add"), (width,), *layer.attn_norm, eps
            )
            up = linear(x, *layer.up, "gelu", [], "none")  # erf GELU, as BERT's "gelu"
            x = F.layer_norm(
                linear.binary(up, x, *layer.down, "add"), (width,), *layer.ffn_norm, eps
            )
        return x.view(batch, length, width)
