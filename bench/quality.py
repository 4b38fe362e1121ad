"""Retrieval quality: `dowse eval` in all three modes on every collection in ../shared/data.

Each collection is indexed once into its own data dir and reused by the three modes. Two peers
are measured in the same run on the same documents and queries: plain BM25 over each whole
document (SQLite FTS5, `porter unicode61`, the query's words joined by OR, over title + text,
as ../shared/data/REFERENCE.md describes it), and plain reciprocal-rank fusion (k = 60) of
Dowse's own keyword and semantic rankings (the top 100 of each, as `dowse eval` gets them).
The table goes into BENCHMARKS.md beside the reference rows of REFERENCE.md. Usage:

    .venv/bin/python bench/quality.py [--collections scifact,cisi] [--work DIR] [--no-write]

With --work, each collection's data dir is DIR/<name> and is kept, so a second run (say, after
a change to fusion) reuses the index instead of building it again.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
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


WORD = re.compile(r"\w+")
RRF_K = 60


def whole_document_bm25(dataset: Path) -> float:
    """nDCG@10 of plain FTS5 BM25 over whole documents: the REFERENCE.md peer, run here."""
    from engine.cli.evaluate import load_collection, ndcg_at

    collection = load_collection(dataset)
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, body, tokenize='porter unicode61')"
    )
    conn.executemany(
        "INSERT INTO docs(id, body) VALUES (?, ?)",
        [(d, f"{t}\n\n{x}" if t else x) for d, (t, x) in collection.corpus.items()],
    )
    scores = []
    for qid, grades in judged(collection.qrels).items():
        words = WORD.findall(collection.queries[qid].lower())
        ranked: list[str] = []
        if words:
            expression = " OR ".join('"' + w + '"' for w in words)
            sql = "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 100"
            ranked = [str(r[0]) for r in conn.execute(sql, (expression,))]
        scores.append(ndcg_at(ranked, grades))
    return statistics.fmean(scores)


def same_run_rrf(dataset: Path, data_dir: Path) -> float:
    """nDCG@10 of RRF (k=60) over Dowse's keyword and semantic top 100, searched as eval does."""
    from engine.cli.evaluate import load_collection, ndcg_at, write_documents
    from engine.core import Engine
    from engine.search.searcher import SearchFilters

    collection = load_collection(dataset)
    docs_dir = data_dir / "eval" / collection.name
    mapping = write_documents(collection, docs_dir)
    only_docs = SearchFilters(folders=(str(docs_dir.resolve()),))
    engine = Engine(data_dir)
    scores = []
    try:
        for qid, grades in judged(collection.qrels).items():
            fused: dict[str, float] = {}
            for mode in ("keyword", "semantic"):
                response = engine.search(collection.queries[qid], mode=mode, k=100,
                                         filters=only_docs)
                for rank, hit in enumerate(response.results[:100], 1):
                    doc = mapping.get(hit.best.path, "")
                    fused[doc] = fused.get(doc, 0.0) + 1.0 / (RRF_K + rank)
            scores.append(ndcg_at(sorted(fused, key=lambda d: -fused[d]), grades))
    finally:
        engine.close()
    return statistics.fmean(scores)


def judged(qrels: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {q: g for q, g in qrels.items() if any(v > 0 for v in g.values())}


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
        "their best passage, with the whole file's BM25 on the keyword side. Peer columns are "
        "measured in this run: plain FTS5 BM25 over whole documents, and plain RRF (k = 60) of "
        "Dowse's own keyword and semantic rankings. Reference columns are from "
        "`../shared/data/REFERENCE.md`.",
        "",
        "| collection | Dowse keyword | Dowse semantic | Dowse hybrid | hybrid − best part "
        "| peer: whole-doc BM25 | peer: RRF of Dowse's sides | ref FTS5 BM25 | ref MiniLM dense "
        "| ref RRF | hybrid recall@100 | hybrid p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    misses = []
    for name in names:
        if args.work:
            data_dir = Path(args.work) / name
            results = {mode: run_eval(SHARED / name, data_dir, mode) for mode in MODES}
            rrf = same_run_rrf(SHARED / name, data_dir)
        else:
            with tempfile.TemporaryDirectory(prefix=f"dowse-quality-{name}-") as tmp:
                results = {mode: run_eval(SHARED / name, Path(tmp), mode) for mode in MODES}
                rrf = same_run_rrf(SHARED / name, Path(tmp))
        bm25 = whole_document_bm25(SHARED / name)
        scores = {m: results[m]["ndcg@10"] for m in MODES}
        margin = scores["hybrid"] - max(scores["keyword"], scores["semantic"])
        ref = refs.get(name, ("–", "–", "–"))
        hybrid = results["hybrid"]
        lines.append(
            f"| {name} | {scores['keyword']:.3f} | {scores['semantic']:.3f} | "
            f"**{scores['hybrid']:.3f}** | {margin:+.3f} | {bm25:.3f} | {rrf:.3f} | "
            f"{ref[0]} | {ref[1]} | {ref[2]} | {hybrid['recall@100']:.3f} | "
            f"{hybrid['query_ms_p50']:.0f} / {hybrid['query_ms_p95']:.0f} |"
        )
        print(lines[-1], flush=True)
        misses += target_misses(name, scores, bm25, rrf, ref[0])
    lines += ["", "Targets: Dowse keyword ≥ whole-document BM25 (this run's and REFERENCE.md's), "
              "Dowse hybrid ≥ this run's RRF, on every collection. "
              + ("Missed: " + "; ".join(misses) + "." if misses else "All met.")]
    print(lines[-1])
    if not args.no_write:
        write_section("quality", "python bench/quality.py", "\n".join(lines))
    return 0


def target_misses(
    name: str, scores: dict[str, float], bm25: float, rrf: float, ref_bm25: str
) -> list[str]:
    """Compared at the three decimals the table shows."""
    misses = []
    keyword, hybrid = round(scores["keyword"], 3), round(scores["hybrid"], 3)
    if keyword < round(bm25, 3):
        misses.append(f"{name} keyword {keyword:.3f} < whole-doc BM25 {bm25:.3f}")
    if re.fullmatch(r"[0-9.]+", ref_bm25) and keyword < float(ref_bm25):
        misses.append(f"{name} keyword {keyword:.3f} < REFERENCE BM25 {ref_bm25}")
    if hybrid < round(rrf, 3):
        misses.append(f"{name} hybrid {hybrid:.3f} < RRF {rrf:.3f}")
    return misses


if __name__ == "__main__":
    sys.exit(main())
