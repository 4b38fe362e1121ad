"""Compares ways of fusing keyword and semantic scores on every shared collection.

It gathers, once per collection, each judged query's candidates (top 200 of each side) with
exact scores on both sides, then scores fusion rules offline: RRF at several k, and convex
combinations of normalised scores over a grid of weights, reporting leave-one-collection-out
choices so the chosen rule is not tuned on the collection it is judged on. Usage:

    .venv/bin/python bench/fusion_study.py [--cache /tmp/dowse-fusion]
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.collections import DEFAULT_WORK, SHARED, available, indexed_engine  # noqa: E402
from engine import fusion  # noqa: E402
from engine.evaluate import ndcg_at  # noqa: E402
from engine.search import Searcher  # noqa: E402
from engine.store.keyword import keyword_search  # noqa: E402

DEPTH = 200

Candidates = list[tuple[str, float, float]]  # (doc id, semantic cosine, bm25 or 0)


def gather(name: str, cache: Path) -> list[tuple[Candidates, dict[str, int]]]:
    pickled = cache / f"{name}.pkl"
    if pickled.exists():
        data: list[tuple[Candidates, dict[str, int]]] = pickle.loads(pickled.read_bytes())
        return data
    engine, collection, mapping = indexed_engine(name, cache)
    semantic = engine.semantic
    searcher = Searcher(engine.store, semantic)
    doc_of = {
        int(r[0]): mapping[str(r[1])]
        for r in engine.store.conn.execute(
            "SELECT c.id, f.path FROM chunks c JOIN files f ON f.id = c.file_id"
        )
    }
    out = []
    for qid, grades in collection.qrels.items():
        if not any(g > 0 for g in grades.values()):
            continue
        query = collection.queries[qid]
        kw = {h.chunk_id: h.score for h in keyword_search(engine.store.conn, query, DEPTH)}
        sem = dict(semantic.nearest(query, DEPTH, None))
        sem |= semantic.similarities(query, [c for c in kw if c not in sem])
        kw |= searcher._keyword_scores(query, [c for c in sem if c not in kw])
        out.append(([(doc_of[c], sem.get(c, 0.0), kw.get(c, 0.0)) for c in set(sem) | set(kw)],
                    grades))
    engine.close()
    pickled.write_bytes(pickle.dumps(out))
    return out


def rank_docs(cands: Candidates, scores: list[float]) -> list[str]:
    best: dict[str, float] = {}
    for (doc, _, _), s in zip(cands, scores, strict=True):
        if s > best.get(doc, float("-inf")):
            best[doc] = s
    return sorted(best, key=lambda d: -best[d])


Rule = Callable[[list[float], list[float]], list[float]]


def rrf(k: int) -> Rule:
    def rule(sem: list[float], kw: list[float]) -> list[float]:
        def ranks(values: list[float]) -> list[int]:
            order = sorted(range(len(values)), key=lambda i: -values[i])
            out = [0] * len(values)
            for r, i in enumerate(order):
                out[i] = r + 1
            return out
        rs, rk = ranks(sem), ranks(kw)
        return [1 / (k + a) + (1 / (k + b) if kw[i] > 0 else 0) for i, (a, b) in
                enumerate(zip(rs, rk, strict=True))]
    return rule


def convex(alpha: float) -> Rule:
    def rule(sem: list[float], kw: list[float]) -> list[float]:
        fused = fusion.fuse(dict(enumerate(sem)), dict(enumerate(kw)), alpha)
        return [fused[i] for i in range(len(sem))]
    return rule


def score(data: list[tuple[Candidates, dict[str, int]]], rule: Rule) -> float:
    values = []
    for cands, grades in data:
        sem = [c[1] for c in cands]
        kw = [c[2] for c in cands]
        values.append(ndcg_at(rank_docs(cands, rule(sem, kw)), grades))
    return statistics.fmean(values)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", default=str(DEFAULT_WORK))
    args = parser.parse_args()
    names = available()
    if not names:
        print(f"skipped: {SHARED} not found")
        return 0
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    data = {name: gather(name, cache) for name in names}
    rules: dict[str, Rule] = {"keyword": lambda s, k: k, "semantic": lambda s, k: s}
    rules |= {f"rrf k={k}": rrf(k) for k in (10, 60)}
    rules |= {f"convex a={a:.1f}": convex(a) for a in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}
    table = {rule: {n: score(data[n], fn) for n in names} for rule, fn in rules.items()}
    print("| rule | " + " | ".join(names) + " | worst margin vs best part |")
    print("|---|" + "---|" * (len(names) + 1))
    for rule, row in table.items():
        margin = min(row[n] - max(table["keyword"][n], table["semantic"][n]) for n in names)
        print(f"| {rule} | " + " | ".join(f"{row[n]:.3f}" for n in names) + f" | {margin:+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
