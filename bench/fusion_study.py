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
import random
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.collections import DEFAULT_WORK, SHARED, available, indexed_engine  # noqa: E402
from engine import fusion  # noqa: E402
from engine.cli.evaluate import Collection, ndcg_at  # noqa: E402
from engine.core import Engine  # noqa: E402
from engine.store.keyword import keyword_search  # noqa: E402

DEPTH = 200

Candidates = list[tuple[str, float, float]]  # (doc id, semantic cosine, bm25 or 0)


def known_item_queries(collection: Collection, n: int = 300) -> dict[str, tuple[str, str]]:
    """Queries made of a document's four rarest words: a lookup where the words decide.

    This stands in for the entity-lookup collections where plain RRF fell far below BM25.
    """
    df: Counter[str] = Counter()
    tokens = {d: re.findall(r"[a-z]{4,}", (t + " " + x).lower())
              for d, (t, x) in collection.corpus.items()}
    for words in tokens.values():
        df.update(set(words))
    rng = random.Random(5)
    out = {}
    for doc in rng.sample(sorted(collection.corpus), n):
        rare = sorted(set(tokens[doc]), key=lambda w: (df[w], w))[:4]
        if len(rare) == 4:
            out[f"ki-{doc}"] = (" ".join(rng.sample(rare, 4)), doc)
    return out


def study_engine(name: str, work: Path) -> tuple[Engine, Collection, dict[str, str]]:
    """indexed_engine for a collection, or for "<collection>-known-item": its known-item
    lookups over the same index."""
    source = name.removesuffix("-known-item")
    engine, collection, mapping = indexed_engine(source, work)
    if name != source:
        items = known_item_queries(collection)
        collection = Collection(name, collection.corpus, {q: t for q, (t, _) in items.items()},
                                {q: {d: 1} for q, (_, d) in items.items()})
    return engine, collection, mapping


def gather(name: str, cache: Path) -> list[tuple[Candidates, dict[str, int]]]:
    pickled = cache / f"{name}.pkl"
    if pickled.exists():
        data: list[tuple[Candidates, dict[str, int]]] = pickle.loads(pickled.read_bytes())
        return data
    engine, collection, mapping = study_engine(name, cache)
    semantic = engine.semantic
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
        pool = {h.chunk_id: h.score for h in keyword_search(engine.store.conn, query, 1000)}
        floor = min(pool.values()) if len(pool) == 1000 else 0.0
        kw |= {c: pool.get(c, floor) for c in sem if c not in kw}
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
    """Convex combination of min-max normalised scores."""
    def rule(sem: list[float], kw: list[float]) -> list[float]:
        def mm(values: list[float]) -> list[float]:
            low, high = min(values), max(values)
            return [(v - low) / (high - low) if high > low else 0.0 for v in values]
        return [alpha * a + (1 - alpha) * b for a, b in zip(mm(sem), mm(kw), strict=True)]
    return rule


def convex_z(alpha: float) -> Rule:
    """Convex combination of z-scores: a side whose best candidate stands far out keeps it."""
    def rule(sem: list[float], kw: list[float]) -> list[float]:
        def z(values: list[float]) -> list[float]:
            mean = statistics.fmean(values)
            sd = statistics.pstdev(values) or 1.0
            return [(v - mean) / sd for v in values]
        return [alpha * a + (1 - alpha) * b for a, b in zip(z(sem), z(kw), strict=True)]
    return rule


def convex_engine() -> Rule:
    """The rule the engine ships (engine.search.fusion.fuse at its default weight)."""
    def rule(sem: list[float], kw: list[float]) -> list[float]:
        fused = fusion.fuse(dict(enumerate(sem)), dict(enumerate(kw)))
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
    if "scifact" in names:
        names.append("scifact-known-item")
    if not names:
        print(f"skipped: {SHARED} not found")
        return 0
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    data = {name: gather(name, cache) for name in names}
    rules: dict[str, Rule] = {"keyword": lambda s, k: k, "semantic": lambda s, k: s}
    rules |= {f"rrf k={k}": rrf(k) for k in (10, 60)}
    rules |= {f"convex a={a:.1f}": convex(a) for a in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}
    rules |= {f"convex-z a={a:.1f}": convex_z(a) for a in (0.4, 0.5, 0.6, 0.7)}
    table = {rule: {n: score(data[n], fn) for n in names} for rule, fn in rules.items()}
    shipped = "dowse (engine.search.fusion)"
    rules[shipped] = convex_engine()
    table[shipped] = {n: score(data[n], rules[shipped]) for n in names}

    def margin(rule: str, among: list[str]) -> float:
        return min(table[rule][n] - max(table["keyword"][n], table["semantic"][n]) for n in among)

    print("| rule | " + " | ".join(names) + " | worst margin vs best part |")
    print("|---|" + "---|" * (len(names) + 1))
    for rule, row in table.items():
        print(f"| {rule} | " + " | ".join(f"{row[n]:.3f}" for n in names)
              + f" | {margin(rule, names):+.3f} |")
    # The "no confident match" threshold: the top-1 cosine of queries whose top-1 semantic
    # passage is relevant, 10th percentile per collection (engine/search/semantic.py takes the
    # lowest).
    print("\n| collection | queries with a relevant top-1 | 10th percentile of its cosine |")
    print("|---|---|---|")
    for n in names:
        tops = [max(c, key=lambda x: x[1]) for c, _ in data[n]]
        good = sorted(t[1] for t, (_, g) in zip(tops, data[n], strict=True) if g.get(t[0], 0) > 0)
        if good:
            print(f"| {n} | {len(good)} | {good[int(0.1 * (len(good) - 1))]:.3f} |")
    # Leave one collection out: pick the fused rule with the best worst-margin on the others,
    # then report how it does on the one left out.
    fused = [r for r in table if r.startswith(("rrf", "convex"))]
    print("\n| held out | rule chosen on the others | held-out nDCG@10 | margin there |")
    print("|---|---|---|---|")
    for held in names:
        others = [n for n in names if n != held]
        chosen = max(fused, key=lambda r: margin(r, others))
        print(f"| {held} | {chosen} | {table[chosen][held]:.3f} | {margin(chosen, [held]):+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
