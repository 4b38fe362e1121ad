"""Retrieval quality: `dowse eval` in all three modes on every collection in ../shared/data.

Each collection is indexed once into its own data dir and reused by the three modes. The table
goes into BENCHMARKS.md beside the reference rows of ../shared/data/REFERENCE.md. Usage:

    .venv/bin/python bench/quality.py [--collections scifact,cisi] [--work DIR] [--no-write]

With --work, each collection's data dir is DIR/<name> and is kept, so a second run (say, after
a change to fusion) reuses the index instead of building it again.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
MODES = ("keyword", "semantic", "hybrid")


def reference_rows() -> dict[str, tuple[str, str, str]]:
    rows: dict[str, tuple[str, str, str]] = {}
    path = SHARED / "REFERENCE.md"
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"[0-9.]+", cells[1]):
            rows[cells[0]] = (cells[1], cells[2], cells[3])
    return rows


def run_eval(dataset: Path, data_dir: Path, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [str(REPO / ".venv" / "bin" / "dowse"), "eval", str(dataset), "--mode", mode, "--json",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--collections", default="")
    parser.add_argument("--work", default="", help="keep each index in WORK/<collection>")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} not found")
        return 0
    names = [n for n in args.collections.split(",") if n] or sorted(
        p.name for p in SHARED.iterdir() if (p / "corpus.jsonl").is_file()
    )
    refs = reference_rows()
    lines = [
        "nDCG@10 on `qrels/test.tsv`; Dowse indexes each document as a file and ranks files by "
        "their best passage. Reference columns are from `../shared/data/REFERENCE.md`.",
        "",
        "| collection | Dowse keyword | Dowse semantic | Dowse hybrid | hybrid − best part "
        "| ref FTS5 BM25 | ref MiniLM dense | ref RRF | hybrid recall@100 | hybrid p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        if args.work:
            data_dir = Path(args.work) / name
            results = {mode: run_eval(SHARED / name, data_dir, mode) for mode in MODES}
        else:
            with tempfile.TemporaryDirectory(prefix=f"dowse-quality-{name}-") as tmp:
                results = {mode: run_eval(SHARED / name, Path(tmp), mode) for mode in MODES}
        scores = {m: results[m]["ndcg@10"] for m in MODES}
        margin = scores["hybrid"] - max(scores["keyword"], scores["semantic"])
        ref = refs.get(name, ("–", "–", "–"))
        hybrid = results["hybrid"]
        lines.append(
            f"| {name} | {scores['keyword']:.3f} | {scores['semantic']:.3f} | "
            f"**{scores['hybrid']:.3f}** | {margin:+.3f} | {ref[0]} | {ref[1]} | {ref[2]} | "
            f"{hybrid['recall@100']:.3f} | {hybrid['query_ms_p50']:.0f} / "
            f"{hybrid['query_ms_p95']:.0f} |"
        )
        print(lines[-1], flush=True)
    if not args.no_write:
        write_section("quality", "python bench/quality.py", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
