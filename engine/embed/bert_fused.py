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
is no faster (0.96x with the buckets' padding): there the products are all the time. Without
AMX, bf16 attention is two products and a softmax rather than SDPA (matmul_attention_wins). The
encoder checks this forward against the model's own when it loads, as it checks FastBert,
and falls back to FastBert when it is unavailable, fails or disagrees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.embed.bert_fast import FastBert
from engine.embed.device import cpu_bf16_unit

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


def matmul_attention_wins(dtype: torch.dtype) -> bool:
    """Whether attention as two matrix products and a softmax beats SDPA's CPU kernel here.

    On AVX512-BF16 without AMX (2 cores of an AMD EPYC, Zen 4) SDPA's flash kernel was 31%
    of a bf16 forward (torch.profiler, 600 SciFact passages), though attention is about 6% of
    the arithmetic at 128 tokens; the products and a softmax into one reused buffer ran the
    same attention 1.5x to 2.1x faster at widths 32 to 256, and the encoder 1.06x to 1.15x
    (bench/embed_throughput.py --sdpa; BENCHMARKS.md "embed-throughput"). On an AMX machine
    such products had lost to SDPA's kernel (9.2 against 6.0 ms at 128 tokens), and in fp32
    they lost past 160 tokens: both keep SDPA.
    """
    return dtype == torch.bfloat16 and cpu_bf16_unit() == "AVX512-BF16"


def _matmul_attention(
    qkv: torch.Tensor, attend: torch.Tensor | None, batch: int, length: int, heads: int,
    scale: float, scores: torch.Tensor,
) -> torch.Tensor:
    """softmax(q k^T * scale + attend) v, through `scores`: (batch, heads, length, length)."""
    width = qkv.shape[1] // 3
    q, k, v = qkv.view(batch, length, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
    torch.matmul(q, k.transpose(-1, -2), out=scores)
    if attend is None:
        scores.mul_(scale)
    else:
        torch.add(attend, scores, alpha=scale, out=scores)  # one pass for both
    torch.ops.aten._softmax.out(scores, -1, False, out=scores)
    return torch.matmul(scores, v).transpose(1, 2).reshape(batch * length, width)


class FusedBert:
    """FastBert's arithmetic, with bias, GELU and residual adds fused into oneDNN's linear.

    The embeddings and layer norms stay FastBert's tensors (shared with the model); the four
    weight matrices of each layer are copied once into oneDNN's layout.
    """

    def __init__(self, fast: FastBert, matmul_attention: bool | None = None) -> None:
        """`matmul_attention`: attention as products and a softmax rather than SDPA; by
        default where that measured faster (matmul_attention_wins)."""
        if not available(fast):
            raise ValueError("oneDNN's fused linear is not available for this model")
        self.fast = fast
        self.matmul_attention = (
            matmul_attention_wins(fast.word.dtype) if matmul_attention is None
            else matmul_attention
        )
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
        # One buffer for every layer's attention scores (a fresh one per layer cost page
        # faults); per call, since threads may run this forward side by side.
        scores = (
            torch.empty((batch, heads, length, length), dtype=x.dtype)
            if self.matmul_attention else None
        )
        scale = (width // heads) ** -0.5
        for layer in self.layers:
            qkv = linear(x, *layer.qkv, "none", [], "")
            if scores is not None:
                context = _matmul_attention(qkv, attend, batch, length, heads, scale, scores)
            else:
                q, k, v = qkv.view(batch, length, 3, heads, width // heads).permute(
                    2, 0, 3, 1, 4)
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
