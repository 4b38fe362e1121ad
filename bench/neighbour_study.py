"""How much a passage's neighbours should count on the keyword side, measured offline.

For each collection it reads an index built by bench/collections.py (passages and their stored
vectors), builds throwaway in-memory FTS5 tables over the same passages, once with the passage
text alone and once with a second column holding the neighbouring passages at several BM25
weights, and scores keyword, semantic and fused (engine.search.fusion) nDCG@10 on the same candidate
sets as bench/fusion_study.py. Usage:

    .venv/bin/python bench/neighbour_study.py [--work /tmp/dowse-bench] [--weights 0.3,0.5,0.7]

The engine's own keyword side is schema migration 4 with the weight in engine/store/keyword.py.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.collections import DEFAULT_WORK, SHARED, available  # noqa: E402
from bench.fusion_study import DEPTH, rank_docs, study_engine  # noqa: E402
from engine import fusion  # noqa: E402
from engine.cli.evaluate import ndcg_at  # noqa: E402
from engine.store.keyword import match_expression  # noqa: E402

TOKENIZE = "porter unicode61 remove_diacritics 2"


def passage_tables(conn: sqlite3.Connection) -> tuple[sqlite3.Connection, list[int], list[str]]:
    """In-memory FTS5 tables `own` (text) and `two` (text, nearby) over the index's passages."""
    rows = conn.execute(
        "SELECT c.id, f.path, c.text FROM chunks c JOIN files f ON f.id = c.file_id"
        " ORDER BY f.path, c.ordinal"
    ).fetchall()
    mem = sqlite3.connect(":memory:")
    mem.execute(f"CREATE VIRTUAL TABLE own USING fts5(text, tokenize='{TOKENIZE}')")
    mem.execute(f"CREATE VIRTUAL TABLE two USING fts5(text, nearby, tokenize='{TOKENIZE}')")
    for i, (cid, path, text) in enumerate(rows):
        before = rows[i - 1][2] if i > 0 and rows[i - 1][1] == path else ""
        after = rows[i + 1][2] if i + 1 < len(rows) and rows[i + 1][1] == path else ""
        mem.execute("INSERT INTO own(rowid, text) VALUES (?, ?)", (cid, text))
        mem.execute("INSERT INTO two(rowid, text, nearby) VALUES (?, ?, ?)",
                    (cid, text, before + "\n" + after))
    return mem, [r[0] for r in rows], [r[1] for r in rows]


def bm25(mem: sqlite3.Connection, rank: str, table: str, query: str, limit: int
         ) -> dict[int, float]:
    expression = match_expression(query)
    if expression is None:
        return {}
    sql = f"SELECT rowid, {rank} FROM {table} WHERE {table} MATCH ? ORDER BY 2 LIMIT ?"
    return {int(a): -float(b) for a, b in mem.execute(sql, (expression, limit))}


def study(name: str, work: Path, weights: list[float]) -> None:
    engine, collection, mapping = study_engine(name, work)
    mem, ids, paths = passage_tables(engine.store.conn)
    doc_of = {cid: mapping[path] for cid, path in zip(ids, paths, strict=True)}
    stored, vectors = engine.semantic._stored(ids, engine.store)
    if stored != ids:
        raise SystemExit(f"{name}: some passages have no vector; index it fully first")
    qids = [q for q, g in collection.qrels.items() if any(v > 0 for v in g.values())]
    query_vectors = engine.semantic.encoder.encode_queries([collection.queries[q] for q in qids])
    engine.close()
    variants = {"passage text only": ("bm25(own)", "own")}
    variants |= {f"with neighbours at {w}": (f"bm25(two, 1.0, {w})", "two") for w in weights}
    position = {cid: i for i, cid in enumerate(ids)}
    for label, (rank, table) in variants.items():
        scores: dict[str, list[float]] = {"keyword": [], "semantic": [], "hybrid": []}
        for qid, qv in zip(qids, query_vectors, strict=True):
            query, grades = collection.queries[qid], collection.qrels[qid]
            sims = vectors @ qv
            top = np.argpartition(-sims, DEPTH)[:DEPTH]
            sem = {ids[i]: float(sims[i]) for i in top}
            kw = bm25(mem, rank, table, query, DEPTH)
            sem |= {c: float(sims[position[c]]) for c in kw if c not in sem}
            pool = bm25(mem, rank, table, query, 1000)
            floor = min(pool.values()) if len(pool) == 1000 else 0.0
            kw |= {c: pool.get(c, floor) for c in sem if c not in kw}
            cands = [(doc_of[c], sem.get(c, 0.0), kw.get(c, 0.0)) for c in set(sem) | set(kw)]
            s, k = [c[1] for c in cands], [c[2] for c in cands]
            fused = fusion.fuse(dict(enumerate(s)), dict(enumerate(k)))
            scores["keyword"].append(ndcg_at(rank_docs(cands, k), grades))
            scores["semantic"].append(ndcg_at(rank_docs(cands, s), grades))
            scores["hybrid"].append(ndcg_at(rank_docs(cands, [fused[i] for i in range(len(s))]),
                                            grades))
        means = " | ".join(f"{statistics.fmean(v):.3f}" for v in scores.values())
        print(f"| {name} | {label} | {means} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default=str(DEFAULT_WORK))
    parser.add_argument("--weights", default="0.3,0.5,0.7")
    args = parser.parse_args()
    names = available()
    if not names:
        print(f"skipped: {SHARED} not found")
        return 0
    if "scifact" in names:
        names.insert(names.index("scifact") + 1, "scifact-known-item")
    print("| collection | keyword side | keyword | semantic | hybrid |\n|---|---|---|---|---|")
    for name in names:
        study(name, Path(args.work), [float(w) for w in args.weights.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
