"""Passage embedding speed: Dowse's encoder against sentence-transformers encode() in fp32.

Same model, same passages (SciFact title + text, chunked as Dowse chunks them), alternated
over several rounds in one process so both see the same machine load. Usage:

    .venv/bin/python bench/embed_throughput.py [--passages 1000] [--rounds 3] [--json]
        [--precision auto|fp32|bf16|int8] [--runtime auto|torch|openvino]
        [--cpu-isa no-bf16 [--restrict-st]] [--before] [--sdpa] [--workers]

--cpu-isa no-bf16 runs Dowse on the path of a CPU without bf16 units ([embed] cpu_isa); with
--restrict-st the whole process, sentence-transformers included, is held to AVX2 (+VNNI)
before torch loads: ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2.
--before adds a third runner, Dowse as it was before issue 15's CPU changes (FastBert instead
of FusedBert, CPU batches padded to their own longest text instead of width buckets), in the
same alternated rounds, so the gain shows as a ratio on one machine load.
--sdpa adds Dowse with SDPA's attention kernel where its FusedBert computes attention as matrix
products and a softmax (engine/embed/bert_fused.py: bf16 without AMX), in the same rounds.
--workers adds Dowse as the meaning phase of `dowse index` runs it: batches of 512 passages
over engine.ingest.meaning.ENCODER_WORKERS threads, each pinned to its share of the cores
(engine/embed/threads.py), against the same encoder called from one thread (its tuner).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: local folders only
if "--restrict-st" in sys.argv:  # before torch is imported: these are read when it loads
    _vnni = " avx_vnni " in open("/proc/cpuinfo").read().replace("\n", " ")
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2_VNNI" if _vnni else "AVX2")
    os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
    os.environ.setdefault("MKL_ENABLE_INSTRUCTIONS", "AVX2")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.config import ChunkConfig, EmbedConfig  # noqa: E402
from engine.embed.bert_fused import FusedBert  # noqa: E402
from engine.embed.model_dir import read_model_info, resolve_model_dir  # noqa: E402
from engine.embed.threads import pin_share_of_cores  # noqa: E402
from engine.embed.transformer import BASE_THREADS, TransformerEncoder  # noqa: E402
from engine.ingest.meaning import BATCH_PASSAGES, ENCODER_WORKERS  # noqa: E402


def load_passages(corpus: Path, model_dir: Path, limit: int) -> tuple[list[str], str]:
    """The first `limit` passages of the corpus, and how they were cut."""
    try:
        from engine.extract.base import Extracted
        from engine.ingest.chunk import PassageTokenizer, chunk_document
    except ImportError as exc:
        chunker = None
        how = f"truncated at the model limit (engine.ingest.chunk unavailable: {exc})"
    else:
        chunker = PassageTokenizer.from_model_dir(model_dir)
        how = "chunked by engine.ingest.chunk.chunk_document with the default ChunkConfig"
    passages: list[str] = []
    with open(corpus, encoding="utf-8") as handle:
        for line in handle:
            if len(passages) >= limit:
                break
            if not line.strip():
                continue
            row = json.loads(line)
            text = f"{row.get('title') or ''}\n\n{row.get('text') or ''}"
            if chunker is None:
                passages.append(text)
            else:
                doc = Extracted(text, "text")
                passages.extend(p.text for p in chunk_document(doc, chunker, ChunkConfig()))
    return passages[:limit], how


def timed(encode: Callable[[Sequence[str]], Any], texts: Sequence[str]) -> tuple[float, Any]:
    started = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - started, np.asarray(vectors, dtype=np.float32)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--runtime", default="auto")
    parser.add_argument("--cpu-isa", default="auto")
    parser.add_argument("--restrict-st", action="store_true",
                        help="hold sentence-transformers to AVX2 too (see the docstring)")
    parser.add_argument(
        "--st-threads", type=int, default=BASE_THREADS,
        help="torch threads for sentence-transformers (default: torch's own, one per core)",
    )
    parser.add_argument("--model", default="", help="a model folder (default: the packaged one)")
    parser.add_argument("--before", action="store_true",
                        help="also time Dowse without FusedBert and width buckets")
    parser.add_argument("--sdpa", action="store_true",
                        help="also time Dowse with SDPA's attention instead of matrix products")
    parser.add_argument("--workers", action="store_true",
                        help="also time the meaning phase's pinned encoder workers")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    corpus = Path(args.dataset) / "corpus.jsonl"
    if not corpus.is_file():
        print(f"skipped: {corpus} not found")
        return 0
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        print("skipped: sentence-transformers is not installed (pip install -e '.[test]')")
        return 0

    model_dir = resolve_model_dir(args.model)
    max_tokens = read_model_info(model_dir).max_tokens
    texts, how = load_passages(corpus, model_dir, args.passages)

    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        config = EmbedConfig(model_path=args.model, device=args.device, precision=args.precision,
                             runtime=args.runtime, cpu_isa=args.cpu_isa)
        dowse = TransformerEncoder(config, Path(cache))
        dowse_start = time.perf_counter() - started
        before, before_start = None, 0.0
        if args.before:
            started = time.perf_counter()
            before = TransformerEncoder(config, Path(cache), fused=False)
            before.width_step = 1
            before_start = time.perf_counter() - started  # with the precision check cached
        sdpa = None
        if args.sdpa:
            sdpa = TransformerEncoder(config, Path(cache))
            forward = sdpa._fast
            if isinstance(forward, FusedBert) and forward.matmul_attention:
                forward.matmul_attention = False
            else:
                print("--sdpa: this encoder uses no attention by matrix products; skipped")
                sdpa = None
    started = time.perf_counter()
    st = SentenceTransformer(str(model_dir), device=dowse.device)
    st_start = time.perf_counter() - started

    lengths = dowse.tokenizer(texts, truncation=True, max_length=max_tokens)["input_ids"]
    tokens = sum(len(ids) for ids in lengths)

    def st_encode(batch: Sequence[str]) -> Any:
        # Dowse's thread tuner changes torch's global setting; ST runs as it ships.
        torch.set_num_threads(args.st_threads)
        return st.encode(list(batch), batch_size=32, show_progress_bar=False)

    runners: dict[str, Callable[[Sequence[str]], Any]] = {
        "dowse": dowse.encode_passages,
        "st": st_encode,
    }
    if before is not None:
        runners["before"] = before.encode_passages
    if sdpa is not None:
        runners["sdpa"] = sdpa.encode_passages
    if args.workers:  # as the meaning phase runs it: one worker where not side by side
        runners["workers"] = _workers(dowse.encode_passages,
                                      ENCODER_WORKERS if dowse.side_by_side else 1)
    for run in runners.values():  # warm-up: first calls pay for lazy initialisation
        run(texts[:32])
    rates: dict[str, list[float]] = {name: [] for name in runners}
    dowse_threads: list[int] = []
    loads: list[float] = []
    vectors: dict[str, Any] = {}
    for round_no in range(args.rounds):
        names = list(runners) if round_no % 2 == 0 else list(reversed(runners))
        for name in names:
            seconds, vectors[name] = timed(runners[name], texts)
            rates[name].append(tokens / seconds)
            if name == "dowse":
                # the tuner's choice: torch's own count is 1 after a round's small last batch
                tuner = getattr(dowse, "_tuner", None)
                dowse_threads.append(tuner.current if tuner else torch.get_num_threads())
        loads.append(round(os.getloadavg()[0], 1))

    cosines = np.sum(vectors["dowse"] * vectors["st"], axis=1) / (
        np.linalg.norm(vectors["dowse"], axis=1) * np.linalg.norm(vectors["st"], axis=1)
    )
    ratios = [d / s for d, s in zip(rates["dowse"], rates["st"], strict=True)]
    gains = [d / b for d, b in zip(rates["dowse"], rates.get("before", []), strict=False)]
    over_sdpa = [d / b for d, b in zip(rates["dowse"], rates.get("sdpa", []), strict=False)]
    worker_gains = [w / d for w, d in zip(rates.get("workers", []), rates["dowse"], strict=False)]
    result = {
        "passages": len(texts),
        "tokens": tokens,
        "mean_tokens": round(tokens / max(len(texts), 1), 1),
        "passages_from": how,
        "rounds": args.rounds,
        "st_threads": args.st_threads,
        "cpu_isa": args.cpu_isa,
        "st_restricted": {k: os.environ[k] for k in (
            "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS"
        ) if k in os.environ and args.restrict_st},
        "dowse_threads_after_each_round": dowse_threads,
        "dowse": dowse.describe(),
        "dowse_start_s": round(dowse_start, 2),
        "st_start_s": round(st_start, 2),
        "dowse_tokens_per_s": [round(r) for r in rates["dowse"]],
        "st_tokens_per_s": [round(r) for r in rates["st"]],
        "ratio_per_round": [round(r, 2) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 2),
        "load_after_each_round": loads,
        "before_tokens_per_s": [round(r) for r in rates.get("before", [])],
        "gain_over_before_per_round": [round(g, 2) for g in gains],
        "sdpa_tokens_per_s": [round(r) for r in rates.get("sdpa", [])],
        "gain_over_sdpa_per_round": [round(g, 2) for g in over_sdpa],
        "workers_tokens_per_s": [round(r) for r in rates.get("workers", [])],
        "workers_over_dowse_per_round": [round(g, 2) for g in worker_gains],
        "workers_over_st_per_round": [round(w / s, 2) for w, s in zip(
            rates.get("workers", []), rates["st"], strict=False)],
        "min_cosine": round(float(cosines.min()), 6),
        "mean_cosine": round(float(cosines.mean()), 6),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    workers = f"{ENCODER_WORKERS} workers" if dowse.side_by_side else "1 worker"
    print("| encoder | tokens/s (median) | tokens/s (best) | per round | start-up s |")
    print("|---|---|---|---|---|")
    for name, label, start in (
        ("dowse", f"Dowse, {dowse.describe()}", dowse_start),
        ("st", f"sentence-transformers encode(), {st.device} fp32, batch 32", st_start),
        *([("before", "Dowse before issue 15 (FastBert, exact widths), "
                      f"{before.describe()}", before_start)] if before is not None else []),
        *([("sdpa", f"Dowse with SDPA's attention, {sdpa.describe()}", dowse_start)]
          if sdpa is not None else []),
        *([("workers", f"Dowse as the meaning phase runs it ({workers} pinned)",
            dowse_start)] if args.workers else []),
    ):
        per_round = ", ".join(f"{r:,.0f}" for r in rates[name])
        print(f"| {label} | {statistics.median(rates[name]):,.0f} | {max(rates[name]):,.0f} "
              f"| {per_round} | {start:.2f} |")
    print(
        f"\nRatio Dowse/ST (median of per-round ratios): {result['ratio_median']:.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}).\n"
        f"Agreement with ST: min cosine {result['min_cosine']:.6f}, "
        f"mean {result['mean_cosine']:.6f}.\n"
        f"{len(texts)} passages, {tokens:,} tokens (non-pad, specials included, at most "
        f"{max_tokens} each), {result['mean_tokens']} per passage; {how}; "
        f"torch threads: ST {args.st_threads}, Dowse's tuner ended rounds on "
        f"{', '.join(map(str, dowse_threads))}; load average after each round: "
        f"{', '.join(map(str, loads))}. Dowse start-up includes its precision check."
    )
    if gains:
        print(f"Dowse now / before (median of per-round ratios): {statistics.median(gains):.2f}x "
              f"(rounds: {', '.join(f'{g:.2f}' for g in gains)}).")
    if over_sdpa:
        print(f"Dowse (attention by matrix products) / with SDPA's attention (median of "
              f"per-round ratios): {statistics.median(over_sdpa):.2f}x "
              f"(rounds: {', '.join(f'{g:.2f}' for g in over_sdpa)}).")
    if worker_gains:
        over_st = result["workers_over_st_per_round"]
        print(f"Pinned workers / one caller: {statistics.median(worker_gains):.2f}x (rounds: "
              f"{', '.join(f'{g:.2f}' for g in worker_gains)}); workers / ST: "
              f"{statistics.median(over_st):.2f}x (rounds: {', '.join(map(str, over_st))}).")
    return 0


def _workers(
    encode: Callable[[Sequence[str]], Any], workers: int
) -> Callable[[Sequence[str]], Any]:
    """encode() as the meaning phase calls it: 512-passage batches on pinned threads."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(workers, initializer=pin_share_of_cores, initargs=(ENCODER_WORKERS,))

    def run(texts: Sequence[str]) -> Any:
        batches = [texts[i:i + BATCH_PASSAGES] for i in range(0, len(texts), BATCH_PASSAGES)]
        return np.concatenate(list(pool.map(encode, batches)))

    return run


if __name__ == "__main__":
    sys.exit(main())
