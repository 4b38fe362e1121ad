"""Passage overlap: whether the 32-piece overlap between passages earns its cost in quality.

For each overlap (0, 16 and 32 word pieces; `[chunk] overlap_tokens` in the data dir's
config.toml, with `max_tokens = 128`) every collection in ../shared/data is indexed through
`dowse eval` in keyword, semantic and hybrid modes. The three modes share one data dir per
collection and overlap, in that order: keyword indexes without vectors, semantic embeds the
passages, hybrid reuses them, so each collection is embedded once per overlap. The cost is the
number of passages and the word pieces the encoder reads (special tokens included), counted
from the index afterwards, and the wall time. Each (collection, overlap) is saved to
WORK/results.json as it finishes, and the BENCHMARKS.md section is rewritten each time, so a
run cut short keeps what it measured and a rerun with the same --work resumes. Usage:

    .venv/bin/python bench/overlap_study.py [--overlaps 32,16,0] [--collections cisi,scifact]
        [--work DIR] [--no-write] [--report-only]

Collections run smallest first (cranfield, cisi, nfcorpus, scifact); a missing one is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402

SHARED = REPO.parent / "shared" / "data"  # --shared overrides it (a worktree elsewhere)
MODES = ("keyword", "semantic", "hybrid")
ORDER = ("cranfield", "cisi", "nfcorpus", "scifact")  # smallest corpus first
SHIPPED = 32
MAX_TOKENS = 128
TOLERANCE = 0.005
SECTION = "passage-overlap"
COMMAND = "python bench/overlap_study.py --work /tmp/dowse-overlap"
MACHINE = "Intel Xeon with AMX, 2 cores"
DATE = "2026-12-01"

Result = dict[str, Any]


def run_eval(dataset: Path, data_dir: Path, mode: str) -> tuple[Result, float]:
    """`dowse eval --json` in a child process of this checkout's engine; result and wall s."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "eval", str(dataset), "--mode", mode, "--json",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=env,
    )
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"dowse eval {dataset.name} {mode} failed:\n{out.stderr[-2000:]}")
    result: Result = json.loads(out.stdout.strip().splitlines()[-1])
    return result, wall


def passage_cost(data_dir: Path, name: str) -> dict[str, int]:
    """Passages of this collection, how many carry a vector, and the word pieces embedded."""
    from engine.embed.model_dir import resolve_model_dir
    from engine.ingest.chunk import PassageTokenizer

    tokenizer = PassageTokenizer.from_model_dir(resolve_model_dir(""), MAX_TOKENS)
    folder = str((data_dir / "eval" / name).resolve())
    conn = sqlite3.connect(f"file:{data_dir / 'dowse.sqlite3'}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT c.text, c.vector IS NOT NULL FROM chunks c JOIN files f ON f.id = c.file_id"
            " WHERE substr(f.path, 1, ?) = ?",
            (len(folder) + 1, folder + os.sep),
        ).fetchall()
    finally:
        conn.close()
    tokens = sum(min(tokenizer.count(text), MAX_TOKENS) for text, _ in rows)
    return {"passages": len(rows), "embedded": sum(1 for _, v in rows if v), "tokens": tokens,
            "chars": sum(len(text) for text, _ in rows)}


def measure(name: str, overlap: int, work: Path) -> Result:
    data_dir = work / f"overlap-{overlap}" / name
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.toml").write_text(
        f"[chunk]\nmax_tokens = {MAX_TOKENS}\noverlap_tokens = {overlap}\n", encoding="utf-8"
    )
    row: Result = {"collection": name, "overlap": overlap, "modes": {}}
    for mode in MODES:
        result, wall = run_eval(SHARED / name, data_dir, mode)
        row["modes"][mode] = {**result, "wall_s": round(wall, 1)}
        print(f"  {name} overlap {overlap} {mode}: nDCG@10 {result['ndcg@10']:.4f}"
              f" (index {result['index_s']} s, wall {wall:.0f} s)", flush=True)
    row.update(passage_cost(data_dir, name))
    return row


def load_results(path: Path) -> dict[str, Result]:
    return json.loads(path.read_text()) if path.exists() else {}


def key(name: str, overlap: int) -> str:
    return f"{name}/{overlap}"


def render(results: dict[str, Result], names: list[str], overlaps: list[int]) -> str:
    """The section body: the overlap-32 baseline, then the comparison and the cost."""
    have = [n for n in names if key(n, SHIPPED) in results]
    lines = [
        "nDCG@10 on `qrels/test.tsv` through `dowse eval` (keyword, then semantic, then hybrid "
        f"on one data dir per collection and overlap), passages of at most {MAX_TOKENS} word "
        "pieces with `[chunk] overlap_tokens` set in the data dir's config.toml. The encoder "
        "is the default (all-MiniLM-L6-v2, `precision = auto`: bf16 on this AMX CPU).",
        "",
        f"### Today's quality baseline (overlap {SHIPPED}, the shipped default)",
        "",
        "Later changes are compared against this table, within "
        f"{TOLERANCE} nDCG@10 in every mode.",
        "",
        "| collection | keyword | semantic | hybrid |",
        "|---|---|---|---|",
    ]
    for n in have:
        m = results[key(n, SHIPPED)]["modes"]
        lines.append(f"| {n} | {m['keyword']['ndcg@10']:.4f} | {m['semantic']['ndcg@10']:.4f}"
                     f" | {m['hybrid']['ndcg@10']:.4f} |")
    lines += [
        "",
        "### By overlap",
        "",
        "Δ is against overlap 32 in the same run. Passages and word pieces are what the "
        "encoder reads (special tokens included); embed s is the semantic run's `index_s` "
        "(embedding the passages the keyword run had stored), keyword s the keyword run's. "
        "Encoding time is linear in the word pieces, so they are the cost to compare: the "
        "seconds were measured with other work on the same 2 cores (load average 5 to 35), "
        f"at {rate_range(results)} word pieces a second, so they say more about the load "
        "than about the overlap.",
        "",
        "| collection | overlap | keyword | semantic | hybrid | Δ keyword | Δ semantic "
        "| Δ hybrid | passages | word pieces | keyword s | embed s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        base = results.get(key(n, SHIPPED))
        for o in overlaps:
            r = results.get(key(n, o))
            if r is None:
                continue
            m = r["modes"]
            cells = [f"{m[x]['ndcg@10']:.4f}" for x in MODES]
            if base is None:
                deltas = ["–"] * 3
            else:
                deltas = [f"{m[x]['ndcg@10'] - base['modes'][x]['ndcg@10']:+.4f}" for x in MODES]
            cost = ""
            if base is not None and o != SHIPPED:
                cost = f" ({r['tokens'] / base['tokens'] - 1:+.0%})"
            lines.append(
                f"| {n} | {o} | {' | '.join(cells)} | {' | '.join(deltas)} | {r['passages']:,}"
                f" | {r['tokens']:,}{cost} | {m['keyword']['index_s']:.0f}"
                f" | {m['semantic']['index_s']:.0f} |"
            )
    lines += ["", verdict(results, names, overlaps)]
    return "\n".join(lines)


def rate_range(results: dict[str, Result]) -> str:
    rates = [r["tokens"] / r["modes"]["semantic"]["index_s"] for r in results.values()
             if r["modes"]["semantic"]["index_s"] > 0]
    return f"{min(rates):,.0f} to {max(rates):,.0f}" if rates else "–"


def verdict(results: dict[str, Result], names: list[str], overlaps: list[int]) -> str:
    """The cheapest overlap within TOLERANCE of overlap 32 in every mode on every collection
    measured at both."""
    text: list[str] = []
    held: dict[int, bool] = {}
    for o in sorted(x for x in overlaps if x != SHIPPED):
        pairs = [(n, results[key(n, o)], results[key(n, SHIPPED)]) for n in names
                 if key(n, o) in results and key(n, SHIPPED) in results]
        if not pairs:
            continue
        worst = min(
            ((r["modes"][x]["ndcg@10"] - b["modes"][x]["ndcg@10"], n, x)
             for n, r, b in pairs for x in MODES)
        )
        saved = 1 - sum(r["tokens"] for _, r, _ in pairs) / sum(b["tokens"] for _, _, b in pairs)
        holds = held[o] = worst[0] >= -TOLERANCE
        text.append(
            f"Overlap {o} against {SHIPPED} on {', '.join(n for n, _, _ in pairs)}: "
            f"{saved:.0%} fewer word pieces to embed; worst change {worst[0]:+.4f} "
            f"({worst[1]} {worst[2]}), {'within' if holds else 'outside'} {TOLERANCE}."
        )
    if not text:
        return f"No overlap other than {SHIPPED} measured yet."
    holding = [o for o, t in sorted(held.items()) if t]
    text.append(
        f"The cheapest overlap that holds every mode within {TOLERANCE}: overlap {holding[0]}."
        if holding else f"No smaller overlap holds every mode within {TOLERANCE}: "
        f"{SHIPPED} stays."
    )
    return " ".join(text)


def main() -> int:
    global SHARED
    parser = argparse.ArgumentParser()
    parser.add_argument("--overlaps", default="32,16,0")
    parser.add_argument("--collections", default="")
    parser.add_argument("--work", default="/tmp/dowse-overlap")
    parser.add_argument("--shared", default=str(SHARED), help="the BEIR collections' folder")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--report-only", action="store_true",
                        help="write the section from WORK/results.json without measuring")
    args = parser.parse_args()
    SHARED = Path(args.shared)
    if not SHARED.is_dir() and not args.report_only:
        print(f"skipped: {SHARED} not found")
        return 0
    wanted = [n for n in args.collections.split(",") if n] or list(ORDER)
    names = [n for n in wanted if (SHARED / n / "corpus.jsonl").is_file()]
    for n in set(wanted) - set(names):
        print(f"skipped: {SHARED / n} not found")
    overlaps = [int(o) for o in args.overlaps.split(",") if o]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    store = work / "results.json"
    results = load_results(store)
    for name in [] if args.report_only else names:
        for overlap in overlaps:
            if key(name, overlap) in results:
                continue
            started = time.perf_counter()
            results[key(name, overlap)] = measure(name, overlap, work)
            results[key(name, overlap)]["wall_s"] = round(time.perf_counter() - started, 1)
            store.write_text(json.dumps(results, indent=1))
            if not args.no_write:
                write_md(render(*everything(results)))
    if args.report_only and not args.no_write:
        write_md(render(*everything(results)))
    print(render(*everything(results)))
    return 0


def everything(results: dict[str, Result]) -> tuple[dict[str, Result], list[str], list[int]]:
    """All that WORK/results.json holds, from runs with other --collections or --overlaps too."""
    names = sorted({r["collection"] for r in results.values()},
                   key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    overlaps = sorted({int(r["overlap"]) for r in results.values()}, reverse=True)
    return results, names, overlaps


def write_md(body: str) -> None:
    """Through bench/benchmarks_md, then the machine and date this study was run under."""
    write_section(SECTION, COMMAND, body)
    from bench.benchmarks_md import BENCHMARKS, machine

    text = BENCHMARKS.read_text()
    start = text.index(f"<!-- {SECTION}:start -->")
    head, tail = text[:start], text[start:]
    tail = tail.replace(f"## {SECTION}\n", "## Passage overlap\n", 1)
    tail = tail.replace(f"Machine: {machine()}", f"Machine: {MACHINE}", 1)
    tail = tail.replace(f"Date: {date.today().isoformat()}", f"Date: {DATE}", 1)
    BENCHMARKS.write_text(head + tail)


if __name__ == "__main__":
    sys.exit(main())
