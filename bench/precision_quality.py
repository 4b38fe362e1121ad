"""Does the fast number format cost quality? SciFact nDCG@10, semantic mode, auto vs fp32.

Runs `dowse eval --mode semantic` twice on fresh data dirs, once with the automatic choice
(bf16 on a CPU with bf16 units) and once with `embed.precision = "fp32"` forced. Usage:

    .venv/bin/python bench/precision_quality.py [--dataset ../shared/data/scifact] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402


def run(dataset: Path, precision: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"dowse-precision-{precision}-") as tmp:
        (Path(tmp) / "config.toml").write_text(f'[embed]\nprecision = "{precision}"\n')
        out = subprocess.run(
            [str(REPO / ".venv" / "bin" / "dowse"), "eval", str(dataset), "--mode", "semantic",
             "--json", "--data-dir", tmp],
            capture_output=True, text=True, check=True,
        )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    dataset = Path(args.dataset)
    if not (dataset / "corpus.jsonl").is_file():
        print(f"skipped: {dataset} not found")
        return 0
    auto, fp32 = run(dataset, "auto"), run(dataset, "fp32")
    delta = auto["ndcg@10"] - fp32["ndcg@10"]
    body = (
        "| precision | nDCG@10 (semantic) | recall@100 | index s |\n|---|---|---|---|\n"
        f"| auto (bf16 here) | {auto['ndcg@10']:.4f} | {auto['recall@100']:.4f} | "
        f"{auto['index_s']:.0f} |\n"
        f"| fp32 forced | {fp32['ndcg@10']:.4f} | {fp32['recall@100']:.4f} | "
        f"{fp32['index_s']:.0f} |\n\n"
        f"Difference: {delta:+.4f} (target: within 0.005)."
    )
    print(body)
    if not args.no_write:
        write_section(f"precision-{dataset.name}", "python bench/precision_quality.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
