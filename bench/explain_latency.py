"""What explaining a top-10 result list costs on one device: the forward pass and the split.

The sets (a query and the best passages of its top 10 files) come from a SciFact index built
the way the app builds it, saved to a JSON file so the same sets can be timed on another
machine (a lent GPU host) without the index. Usage:

    .venv/bin/python bench/explain_latency.py --save sets.json      # build sets from the index
    python bench/explain_latency.py --sets sets.json [--model DIR] [--device cuda] [--precision P]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.config import EmbedConfig  # noqa: E402
from engine.embed.transformer import load_encoder  # noqa: E402
from engine.search.explain import explain_passages  # noqa: E402


def build_sets(count: int, work: Path) -> list[dict[str, object]]:
    from bench.collections import indexed_engine

    engine, collection, _ = indexed_engine("scifact", work)
    sets: list[dict[str, object]] = []
    for query in list(collection.queries.values())[:count]:
        results = engine.search(query, mode="hybrid", k=10).results
        sets.append({"query": query, "passages": [r.best.text for r in results]})
    return sets


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", type=Path, help="time these sets (JSON)")
    parser.add_argument("--save", type=Path, help="build sets from the SciFact index, save")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--work", type=Path, default=Path("/tmp/dowse-bench"))
    parser.add_argument("--model", default="")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()
    if args.save:
        args.save.write_text(json.dumps(build_sets(args.count, args.work)))
        print(f"saved {args.count} sets to {args.save}")
        return 0
    if not args.sets:
        parser.error("give --sets or --save")
    sets = json.loads(args.sets.read_text())
    encoder = load_encoder(
        EmbedConfig(model_path=args.model, device=args.device, precision=args.precision)
    )
    for warm in sets[:3]:
        explain_passages(encoder, warm["query"], [(t, 0) for t in warm["passages"]])
    times, tokens, worst = [], [], 0.0
    for item in sets:
        passages = [(t, 0) for t in item["passages"]]
        started = time.perf_counter()
        explanations = explain_passages(encoder, item["query"], passages)
        if encoder.device == "cuda":
            import torch

            torch.cuda.synchronize()
        times.append((time.perf_counter() - started) * 1000)
        tokens.append(sum(len(encoder.tokenizer(t)["input_ids"]) for t, _ in passages))
        for e in explanations:  # the parts must still add up, whatever the device
            worst = max(worst, abs(sum(w for *_, w in e.passage_spans) + e.special_share
                                   - e.score))
    times.sort()
    p50, p95 = times[len(times) // 2], times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    device = encoder.describe()
    print(f"| {device} | {cpu_name()} | {len(sets)} | {sum(tokens) / len(tokens):.0f} "
          f"| {p50:.0f} | {p95:.0f} | {worst:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
