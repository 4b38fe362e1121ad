"""Whole documents on the keyword side: which file-level evidence closes the gap to plain BM25.

Reads the indexes that `bench/quality.py --work DIR` leaves in DIR/<collection> and, for every
judged query, ranks files by several aggregations of the engine's own passage BM25 scores (the
top 1,000 passages, as the searcher already fetches them) beside plain BM25 over each whole
document in a throwaway in-memory FTS5 table (the REFERENCE.md peer). Usage:

    .venv/bin/python bench/document_keyword_study.py --work DIR [--collections cisi,scifact]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.collections import SHARED, available  # noqa: E402
from engine.cli.evaluate import load_collection, ndcg_at, safe_file_name  # noqa: E402
from engine.store.keyword import keyword_search, match_expression  # noqa: E402

TOKENIZE = "porter unicode61 remove_diacritics 2"
POOL = 1000
Aggregate = Callable[[list[float]], float]


def whole_documents(corpus: dict[str, tuple[str, str]]) -> sqlite3.Connection:
    mem = sqlite3.connect(":memory:")
    mem.execute(f"CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, body, tokenize='{TOKENIZE}')")
    mem.executemany(
        "INSERT INTO docs(id, body) VALUES (?, ?)",
        [(d, f"{t}\n\n{x}" if t else x) for d, (t, x) in corpus.items()],
    )
    return mem


def document_bm25(mem: sqlite3.Connection, query: str, limit: int = 1000) -> dict[str, float]:
    expression = match_expression(query)
    if expression is None:
        return {}
    sql = "SELECT id, bm25(docs) FROM docs WHERE docs MATCH ? ORDER BY 2 LIMIT ?"
    return {str(a): -float(b) for a, b in mem.execute(sql, (expression, limit))}


def aggregations() -> dict[str, Aggregate]:
    def top_sum(n: int) -> Aggregate:
        return lambda s: sum(s[:n])

    def decay(g: float) -> Aggregate:
        return lambda s: sum(v * g**i for i, v in enumerate(s))

    out: dict[str, Aggregate] = {"max": lambda s: s[0], "sum": sum}
    for n in (2, 3):
        out[f"top{n} sum"] = top_sum(n)
    for g in (0.25, 0.5, 0.75):
        out[f"decay {g}"] = decay(g)
    out["log-sum-exp"] = lambda s: math.log(sum(math.exp(v - s[0]) for v in s)) + s[0]
    return out


def z(scores: dict[str, float]) -> dict[str, float]:
    if len(scores) < 2:
        return dict.fromkeys(scores, 0.0)
    mean, spread = statistics.fmean(scores.values()), statistics.pstdev(scores.values())
    return {k: (v - mean) / spread if spread else 0.0 for k, v in scores.items()}


def ranked(scores: dict[str, float]) -> list[str]:
    return [d for d, _ in sorted(scores.items(), key=lambda kv: -kv[1])]


def study(name: str, work: Path) -> dict[str, float]:
    collection = load_collection(SHARED / name)
    data = work / name
    conn = sqlite3.connect(data / "dowse.sqlite3")
    docs_dir = str((data / "eval" / name).resolve())
    doc_of = {f"{docs_dir}/{safe_file_name(d)}": d for d in collection.corpus}
    file_doc = {
        int(i): doc_of.get(str(p), "")
        for i, p in conn.execute("SELECT id, path FROM files")
    }
    chunk_file = {int(c): int(f) for c, f in conn.execute("SELECT id, file_id FROM chunks")}
    mem = whole_documents(collection.corpus)
    judged = [q for q, g in collection.qrels.items() if any(v > 0 for v in g.values())]
    aggs = aggregations()
    results: dict[str, list[float]] = defaultdict(list)
    for qid in judged:
        query, grades = collection.queries[qid], collection.qrels[qid]
        whole = document_bm25(mem, query)
        results["whole-document BM25 (peer)"].append(ndcg_at(ranked(whole), grades))
        per_doc: dict[str, list[float]] = defaultdict(list)
        for hit in keyword_search(conn, query, POOL):
            per_doc[file_doc[chunk_file[hit.chunk_id]]].append(hit.score)
        for label, agg in aggs.items():
            scores = {d: agg(s) for d, s in per_doc.items()}
            results[label].append(ndcg_at(ranked(scores), grades))
        best = {d: s[0] for d, s in per_doc.items()}
        # Oracle-free fusions of the passage max with a document-level aggregate.
        for label in ("sum", "decay 0.5"):
            agg = aggs[label]
            doc_level = z({d: agg(s) for d, s in per_doc.items()})
            zb = z(best)
            for mu in (0.3, 0.5, 0.7):
                fused = {d: (1 - mu) * zb[d] + mu * doc_level[d] for d in best}
                results[f"max ⊕ {label} @{mu}"].append(ndcg_at(ranked(fused), grades))
        zw = z(whole)
        zb = z(best)
        for mu in (0.5,):
            fused = {d: (1 - mu) * zb.get(d, min(zb.values(), default=0.0))
                     + mu * zw.get(d, min(zw.values(), default=0.0)) for d in set(zb) | set(zw)}
            results[f"max ⊕ whole-doc BM25 @{mu} (needs a document index)"].append(
                ndcg_at(ranked(fused), grades))
    return {k: statistics.fmean(v) for k, v in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--collections", default="")
    args = parser.parse_args()
    names = [n for n in args.collections.split(",") if n] or available()
    table = {name: study(name, Path(args.work)) for name in names}
    labels = list(next(iter(table.values())))
    print("| rule | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for label in labels:
        print(f"| {label} | " + " | ".join(f"{table[n][label]:.3f}" for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
