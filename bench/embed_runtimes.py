"""CPU runtimes for the encoder side by side: torch, ONNX Runtime and OpenVINO, fp32/bf16/int8.

Same passages as bench/embed_throughput.py, same length-sorted batches of at most 2,048
tokens, each runtime's states mean-pooled the same way, and every runtime held to torch's fp32
vectors by cosine. Runtimes that are not installed (onnx + onnxruntime for the ONNX rows,
openvino + nncf for the OpenVINO int8 row) are skipped. Rounds alternate the order. Usage:

    .venv/bin/python bench/embed_runtimes.py [--passages 300] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from embed_throughput import load_passages  # noqa: E402

from engine.embed.bert_fast import FastBert  # noqa: E402
from engine.embed.model_dir import read_model_info, resolve_model_dir  # noqa: E402
from engine.embed.transformer import BASE_THREADS, _load_model, _load_tokenizer  # noqa: E402

Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]


def torch_forward(fast: FastBert) -> Forward:
    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return fast(torch.from_numpy(ids), torch.from_numpy(mask)).float().numpy()
    return run


def torch_dynamic_int8(model_dir: Path) -> Forward:
    torch.backends.quantized.engine = "x86"
    quantized = torch.ao.quantization.quantize_dynamic(
        _load_model(model_dir), {torch.nn.Linear}, dtype=torch.qint8
    )

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = quantized(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
            return out.last_hidden_state.numpy()
    return run


def onnx_files(fast: FastBert, folder: Path) -> tuple[Path, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from engine.embed.openvino_forward import _TraceableBert

    fp32, int8 = folder / "model.onnx", folder / "model-int8.onnx"
    example = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        _TraceableBert(fast).eval(), example, str(fp32), input_names=["ids", "mask"],
        output_names=["hidden"], dynamic_axes={"ids": axes, "mask": axes, "hidden": axes},
        opset_version=17, dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])
    return fp32, int8


def ort_forward(path: Path) -> Forward:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = BASE_THREADS, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda ids, mask: session.run(None, {"ids": ids, "mask": mask})[0]


def openvino_rows(fast: FastBert, precision: str) -> Forward:
    from engine.embed.openvino_forward import OpenVinoForward

    forward = OpenVinoForward(fast, "bench", None, precision, BASE_THREADS)
    return lambda ids, mask: forward(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    corpus = Path(args.dataset) / "corpus.jsonl"
    if not corpus.is_file():
        print(f"skipped: {corpus} not found")
        return 0
    model_dir = resolve_model_dir("")
    texts, how = load_passages(corpus, model_dir, args.passages)
    tokenizer = _load_tokenizer(model_dir)
    ids = tokenizer(texts, truncation=True, max_length=read_model_info(model_dir).max_tokens)[
        "input_ids"
    ]
    tokens = sum(map(len, ids))
    order = np.argsort([-len(x) for x in ids], kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = len(ids[order[start]])
        rows = order[start : start + max(1, min(32, 2048 // longest))]
        batch = np.zeros((len(rows), longest), np.int64)
        mask = np.zeros_like(batch)
        for i, row in enumerate(rows):
            batch[i, : len(ids[row])], mask[i, : len(ids[row])] = ids[row], 1
        batches.append((rows, batch, mask))
        start += len(rows)

    def encode(forward: Forward) -> np.ndarray:
        out = np.zeros((len(ids), 384), np.float32)
        for rows, batch, mask in batches:
            weights = mask[..., None].astype(np.float32)
            pooled = (forward(batch, mask) * weights).sum(1) / weights.sum(1)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    model = _load_model(model_dir)
    fast = FastBert(model)
    bf16 = FastBert(_load_model(model_dir).to(torch.bfloat16))
    makers: dict[str, Callable[[], Forward]] = {
        "torch fp32 (lean forward)": lambda: torch_forward(fast),
        "torch bf16 (lean forward; today's default)": lambda: torch_forward(bf16),
        "torch.ao dynamic int8 (Linear layers, x86 engine)": lambda: torch_dynamic_int8(model_dir),
    }
    scratch = Path(tempfile.mkdtemp(prefix="dowse-runtimes-"))
    try:
        import onnxruntime  # noqa: F401

        fp32_file, int8_file = onnx_files(fast, scratch)
        makers["ONNX Runtime fp32"] = lambda: ort_forward(fp32_file)
        makers["ONNX Runtime dynamic int8 (per-channel weights)"] = lambda: ort_forward(int8_file)
    except ImportError as exc:
        print(f"ONNX Runtime rows skipped: {exc}")
    try:
        import openvino  # noqa: F401

        for precision in ("fp32", "bf16", "int8"):
            makers[f"OpenVINO {precision}"] = lambda p=precision: openvino_rows(fast, p)
    except ImportError as exc:
        print(f"OpenVINO rows skipped: {exc}")

    torch.set_num_threads(BASE_THREADS)
    reference = encode(makers["torch fp32 (lean forward)"]())
    forwards: dict[str, Forward] = {}
    for name, make in makers.items():
        try:
            forwards[name] = make()
            encode_rows = batches[:2]  # warm-up
            for _, batch, mask in encode_rows:
                forwards[name](batch, mask)
        except Exception as exc:  # a runtime that cannot run here is a row saying so
            print(f"{name}: failed ({exc})")
    rates: dict[str, list[float]] = {name: [] for name in forwards}
    cosines: dict[str, float] = {}
    for round_no in range(args.rounds):
        names = list(forwards) if round_no % 2 == 0 else list(reversed(forwards))
        for name in names:
            started = time.perf_counter()
            vectors = encode(forwards[name])
            rates[name].append(tokens / (time.perf_counter() - started))
            cosines[name] = float(np.min(np.sum(vectors * reference, axis=1)))
    base = statistics.median(rates["torch fp32 (lean forward)"])
    print("| runtime | tokens/s (median) | per round | vs torch fp32 | min cosine to fp32 |")
    print("|---|---|---|---|---|")
    for name, per_round in rates.items():
        median = statistics.median(per_round)
        print(f"| {name} | {median:,.0f} | {', '.join(f'{r:,.0f}' for r in per_round)} "
              f"| {median / base:.2f}x | {cosines[name]:.5f} |")
    print(f"\n{len(texts)} passages, {tokens:,} tokens; {how}; {BASE_THREADS} threads each.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
