"""How much the encoder's process grows while it embeds, and whether it keeps growing.

oneDNN builds and caches kernels for every matrix shape it meets, so an encoder that pads each
batch to its own longest text grows with the number of passages. This loads the encoder,
tokenizes the passages (so their lists are not counted), then embeds them in calls of
--chunk passages, as the indexer does, and prints the resident size after each call. Usage:

    .venv/bin/python bench/embed_memory.py [--passages 6000] [--chunk 1000] [--before]
        [--precision auto] [--cpu-isa auto] [--step N]

--before runs Dowse as it was before issue 15's CPU changes (FastBert, exact widths). Run each
variant in its own process: resident memory is the process's, whatever allocated it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.embed_throughput import load_passages  # noqa: E402
from engine.config import EmbedConfig  # noqa: E402
from engine.embed.model_dir import resolve_model_dir  # noqa: E402
from engine.embed.transformer import TransformerEncoder  # noqa: E402


def status_mb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--passages", type=int, default=6000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--cpu-isa", default="auto")
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--step", type=int, default=0, help="width step (default: the encoder's)")
    args = parser.parse_args()
    corpus = Path(args.dataset) / "corpus.jsonl"
    if not corpus.is_file():
        print(f"skipped: {corpus} not found")
        return 0
    texts, _ = load_passages(corpus, resolve_model_dir(""), args.passages)
    config = EmbedConfig(precision=args.precision, cpu_isa=args.cpu_isa)
    with tempfile.TemporaryDirectory() as cache:
        encoder = TransformerEncoder(config, Path(cache), fused=not args.before)
    if args.before or args.step:
        encoder.width_step = 1 if args.before else args.step
    encoder.encode_passages(texts[:32])
    loaded = status_mb("VmRSS")
    ids = encoder.tokenizer(texts, truncation=True, max_length=encoder.max_tokens)["input_ids"]
    base = status_mb("VmRSS")
    growth: list[int] = []
    started = time.perf_counter()
    for start in range(0, len(texts), args.chunk):
        encoder.encode_passages(texts[start : start + args.chunk])
        growth.append(status_mb("VmRSS") - base)
    seconds = time.perf_counter() - started
    result = {
        "encoder": encoder.describe() + (" (before: FastBert, exact widths)" if args.before
                                         else f" ({type(encoder._fast).__name__})"),
        "width_step": encoder.width_step,
        "passages": len(texts),
        "tokens": sum(len(row) for row in ids),
        "rss_loaded_mb": loaded,
        "rss_after_tokenizing_mb": base,
        f"growth_mb_after_each_{args.chunk}": growth,
        "peak_over_loaded_mb": status_mb("VmHWM") - loaded,
        "tokens_per_s": round(sum(len(row) for row in ids) / seconds),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
