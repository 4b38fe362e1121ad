"""Runs the lean BERT forward through OpenVINO on CPUs: the one int8 path that stayed accurate.

Measured side by side on the same SciFact passages, 2 cores of an AMX Xeon (bench/
embed_runtimes.py, BENCHMARKS.md "embed-runtimes"), against torch fp32 on a busy machine:
OpenVINO int8 2.2x tokens/s at 0.9989 cosine to fp32 (int8 weights per channel, activations
quantized on the fly in groups of 32), ONNX Runtime dynamic int8 2.3x but 0.989 cosine, torch.ao
dynamic int8 1.2x at 0.889. OpenVINO bf16 ran 4.0x there, yet on a quiet machine torch's own
bf16 beat it (2.7x against 1.9x ST fp32), so the encoder uses this module only when asked.
The graph is converted once from the local weights (nothing is downloaded) and cached in the
data dir's cache folder, keyed by the model folder's fingerprint, OpenVINO version and variant.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from engine.embed.bert_fast import FastBert
from engine.private_files import private_dir

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "int8")
# Activations of the int8 path are quantized on the fly in groups of this many channels:
# per-token scales would lose the outlier channels that MiniLM's feed-forward layers have.
# On 300 SciFact passages (2 cores held to AVX2-VNNI, alternated rounds) groups of 32 ran
# 11,400-12,500 tokens/s at min cosine 0.9988 to fp32, of 128 15,100-15,600 at 0.9981 (0.9962
# on the calibration texts), of 384 16,300 at 0.9958: 128 keeps most of the speed.
DYNAMIC_QUANT_GROUP = 128


_converted: dict[str, Any] = {}


def available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def int8_available() -> bool:
    """int8 weights are made by NNCF (the `int8` extra), once, when the cache is filled."""
    try:
        import nncf  # noqa: F401
    except ImportError:
        return False
    return True


class _TraceableBert(torch.nn.Module):
    """FastBert's arithmetic with an additive mask always applied, so one graph fits every
    batch (FastBert skips the mask when there is no padding: a branch a trace would freeze)."""

    def __init__(self, fast: FastBert) -> None:
        super().__init__()
        self.hidden, self.heads, self.eps = fast.hidden, fast.heads, fast.eps
        self._n_layers = len(fast.layers)
        for name, value in (
            ("word", fast.word), ("position", fast.position), ("token_type", fast.token_type),
            ("emb_norm_w", fast.emb_norm[0]), ("emb_norm_b", fast.emb_norm[1]),
        ):
            self.register_buffer(name, value.detach().float().clone())
        for i, layer in enumerate(fast.layers):
            for field in ("qkv_weight", "qkv_bias", "out_weight", "out_bias", "up_weight",
                          "up_bias", "down_weight", "down_bias"):
                self.register_buffer(f"l{i}_{field}", getattr(layer, field).detach().float())
            for field, (weight, bias) in (("attn_norm", layer.attn_norm),
                                           ("ffn_norm", layer.ffn_norm)):
                self.register_buffer(f"l{i}_{field}_w", weight.detach().float())
                self.register_buffer(f"l{i}_{field}_b", bias.detach().float())

    def _p(self, name: str) -> torch.Tensor:
        value: torch.Tensor = getattr(self, name)
        return value

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length = ids.shape[0], ids.shape[1]
        width, heads = self.hidden, self.heads
        p = self._p
        x = F.embedding(ids, p("word")) + p("position")[:length] + p("token_type")
        x = F.layer_norm(x, (width,), p("emb_norm_w"), p("emb_norm_b"), self.eps)
        bias = (1.0 - mask.to(x.dtype))[:, None, None, :] * -1e4
        scale = 1.0 / float(width // heads) ** 0.5
        for i in range(self._n_layers):
            qkv = F.linear(x, p(f"l{i}_qkv_weight"), p(f"l{i}_qkv_bias"))
            q, k, v = qkv.view(batch, length, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
            scores = torch.matmul(q, k.transpose(-1, -2)) * scale + bias
            context = torch.matmul(torch.softmax(scores, -1), v)
            context = context.transpose(1, 2).reshape(batch, length, width)
            x = F.layer_norm(
                F.linear(context, p(f"l{i}_out_weight"), p(f"l{i}_out_bias")) + x,
                (width,), p(f"l{i}_attn_norm_w"), p(f"l{i}_attn_norm_b"), self.eps,
            )
            up = F.gelu(F.linear(x, p(f"l{i}_up_weight"), p(f"l{i}_up_bias")))
            x = F.layer_norm(
                F.linear(up, p(f"l{i}_down_weight"), p(f"l{i}_down_bias")) + x,
                (width,), p(f"l{i}_ffn_norm_w"), p(f"l{i}_ffn_norm_b"), self.eps,
            )
        return x


def _convert(fast: FastBert, int8: bool) -> Any:
    import openvino as ov

    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    example[1][1, 5:] = 0
    # OpenVINO's PyTorch frontend traces with torch.jit.trace, deprecated (with a warning) in
    # torch 2.13; the trace itself is sound: one graph, no data-dependent branch.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = ov.convert_model(
            _TraceableBert(fast).eval(),
            example_input=example,
            input=[("ids", ov.PartialShape([-1, -1]), ov.Type.i64),
                   ("mask", ov.PartialShape([-1, -1]), ov.Type.i64)],
        )
    if int8:
        import nncf

        logging.getLogger("nncf").setLevel(logging.WARNING)  # its tables are not our log's
        graph = nncf.compress_weights(graph, mode=nncf.CompressWeightsMode.INT8_SYM)
    return graph


@functools.cache
def _core() -> Any:
    """One OpenVINO Core a process. Each Core loads its own CPU plugin, which maps its own
    alternate signal stack onto the calling thread and, once freed, puts the previous one back
    only if its own is still the thread's: freed out of order (an int8 forward that fell back,
    dropped after the fp32 one made beside it), they left the thread's signal stack pointing at
    unmapped memory, and the next signal Python handles (Ctrl+C, SIGTERM) killed the process
    with SIGSEGV."""
    import openvino as ov

    return ov.Core()


def cached_graph(fast: FastBert, fingerprint: str, cache_dir: Path | None, int8: bool) -> Any:
    """The converted graph, read from the cache when an earlier start-up wrote it."""
    import openvino as ov

    variant = "int8w" if int8 else "fp32"
    name = f"{fingerprint}-ov{ov.__version__.split('-')[0]}-{variant}.xml"
    if name in _converted:  # every encoder in this process shares one conversion
        return _converted[name]
    folder = cache_dir / "openvino" if cache_dir is not None else None
    if folder is not None and (folder / name).is_file():
        try:
            return _core().read_model(str(folder / name))
        except RuntimeError as exc:  # a half-written or damaged cache: convert again
            log.warning("ignoring unreadable OpenVINO cache %s: %s", folder / name, exc)
    graph = _converted[name] = _convert(fast, int8)
    if folder is not None:
        try:
            private_dir(folder)
            tmp = folder / f".{name}.{os.getpid()}"
            ov.save_model(graph, str(tmp.with_suffix(".xml")), compress_to_fp16=False)
            os.replace(tmp.with_suffix(".bin"), (folder / name).with_suffix(".bin"))
            os.replace(tmp.with_suffix(".xml"), folder / name)
        except (OSError, RuntimeError) as exc:  # costs a conversion next time, nothing more
            log.warning("could not cache the OpenVINO graph in %s: %s", folder, exc)
    return graph


class OpenVinoForward:
    """Last-layer states (batch, tokens, hidden) in fp32, like FastBert's, from OpenVINO."""

    def __init__(
        self, fast: FastBert, fingerprint: str, cache_dir: Path | None, precision: str,
        threads: int,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"OpenVINO precision must be one of {PRECISIONS}, not {precision}")
        self.precision = precision
        graph = cached_graph(fast, fingerprint, cache_dir, int8=precision == "int8")
        settings: dict[str, Any] = {
            "INFERENCE_NUM_THREADS": max(1, threads),
            "PERFORMANCE_HINT": "LATENCY",
            # bf16 only when asked: OpenVINO's own default on a bf16 CPU is bf16 for all.
            "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        }
        if precision == "int8":
            settings["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = DYNAMIC_QUANT_GROUP
        self._compiled = _core().compile_model(graph, "CPU", settings)
        self._request = self._compiled.create_infer_request()

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        result = self._request.infer({"ids": ids.numpy(), "mask": mask.numpy()})
        return torch.from_numpy(result[0].copy())
