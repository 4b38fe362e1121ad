"""Faithfulness and cost of Dowse's attributions against two baselines, on shared queries.

For each query's top-1 passage (semantic mode) on SciFact and Cranfield:
- deletion test: remove the top 10% of words by a method's attribution, re-embed, and record
  the score drop; compare with removing a random 10% (mean of 20 draws). Ratio = drop / random.
- methods: Dowse's exact decomposition; leave-one-word-out (what txtai's explain does: one
  re-embedding per word); BERTScore-style max cosine of each passage token to the query tokens.
- cost: milliseconds per explained passage for each method.
- latency: what `--explain` adds to a top-10 search, p50/p95, on distinct queries.
Usage:

    .venv/bin/python bench/attribution.py [--queries 100] [--loo-queries 40] [--no-write]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from bench.collections import DEFAULT_WORK, available, indexed_engine  # noqa: E402
from engine.cli.evaluate import percentile  # noqa: E402
from engine.core import Engine  # noqa: E402
from engine.search.explain import explain_passages  # noqa: E402
from engine.search.explanation import fold_words  # noqa: E402

COLLECTIONS = ("scifact", "cranfield")
RANDOM_DRAWS = 20
FRACTION = 0.10

Words = list[tuple[int, int]]


def remove_words(text: str, words: Words, chosen: Sequence[int]) -> str:
    drop = set(chosen)
    out, last = [], 0
    for i, (s, e) in enumerate(words):
        if i in drop:
            out.append(text[last:s])
            last = e
    out.append(text[last:])
    return " ".join("".join(out).split())


def ours(encoder: object, query: str, text: str) -> tuple[Words, np.ndarray]:
    (e,) = explain_passages(encoder, query, [(text, 0)])
    return [(s, t) for s, t, _ in e.passage_spans], np.array([w for _, _, w in e.passage_spans])


def leave_one_out(encoder: object, query: str, text: str, words: Words) -> np.ndarray:
    q = encoder.encode_queries([query])[0]  # type: ignore[attr-defined]
    base = float(encoder.encode_passages([text])[0] @ q)  # type: ignore[attr-defined]
    variants = [remove_words(text, words, [i]) for i in range(len(words))]
    scores = encoder.encode_passages(variants) @ q  # type: ignore[attr-defined]
    return base - scores  # type: ignore[no-any-return]


def bertscore_style(encoder: object, query: str, text: str, words: Words) -> np.ndarray:
    q_states = encoder.token_states([query], kind="query")[0]  # type: ignore[attr-defined]
    p_states = encoder.token_states([text], kind="passage")[0]  # type: ignore[attr-defined]
    g = q_states.hidden / np.linalg.norm(q_states.hidden, axis=1, keepdims=True)
    h = p_states.hidden / np.linalg.norm(p_states.hidden, axis=1, keepdims=True)
    token_scores = (h @ g.T).max(axis=1)
    _, owner = fold_words(text, p_states.offsets, p_states.special_mask)
    weights = np.zeros(len(words))
    # Average over a word's pieces: max-similarity is a per-token quality, not additive.
    counts = np.zeros(len(words))
    np.add.at(weights, owner[owner >= 0], token_scores[owner >= 0])
    np.add.at(counts, owner[owner >= 0], 1)
    return weights / np.maximum(counts, 1)


def deletion_drops(
    encoder: object,
    query: str,
    text: str,
    words: Words,
    methods: dict[str, np.ndarray],
    rng: random.Random,
) -> tuple[dict[str, float], float]:
    """Score drop after removing each method's top 10% of words, and the mean drop after
    removing a random 10% (the same 20 draws serve every method)."""
    n = max(1, math.ceil(FRACTION * len(words)))
    q = encoder.encode_queries([query])[0]  # type: ignore[attr-defined]
    names = list(methods)
    tops = [list(np.argsort(-methods[m])[:n]) for m in names]
    randoms = [rng.sample(range(len(words)), n) for _ in range(RANDOM_DRAWS)]
    texts = [text] + [remove_words(text, words, c) for c in tops + randoms]
    scores = encoder.encode_passages(texts) @ q  # type: ignore[attr-defined]
    drops = {m: float(scores[0] - scores[1 + i]) for i, m in enumerate(names)}
    return drops, float(np.mean(scores[0] - scores[1 + len(names) :]))


def timed_search(engine: Engine, query: str, explain: bool) -> float:
    # Both timings start cold: the engine caches query vectors, and a warm cache would hide
    # the query encoding from one side of the comparison.
    engine.semantic._query_cache.clear()
    started = time.perf_counter()
    engine.search(query, mode="hybrid", k=10, explain=explain)
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=100, help="per collection")
    parser.add_argument("--loo-queries", type=int, default=40, help="per collection, for LOO")
    parser.add_argument("--work", default=str(DEFAULT_WORK))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    names = [n for n in COLLECTIONS if n in available()]
    if not names:
        print("skipped: ../shared/data not found")
        return 0
    rng = random.Random(13)
    rows, latency_rows = [], []
    for name in names:
        engine, collection, _ = indexed_engine(name, Path(args.work))
        encoder = engine.semantic.encoder
        qids = [q for q, g in collection.qrels.items() if any(v > 0 for v in g.values())]
        qids = qids[: args.queries]
        # One row per passage: each method's drop and the shared random drop.
        rows_all: list[tuple[dict[str, float], float]] = []
        cost: dict[str, list[float]] = {"dowse": [], "loo": [], "bertscore": []}
        added = []
        for n, qid in enumerate(qids):
            query = collection.queries[qid]
            plain = timed_search(engine, query, explain=False)
            added.append(timed_search(engine, query, explain=True) - plain)
            top = engine.search(query, mode="semantic", k=1).results
            if not top:
                continue
            text = top[0].best.text
            t0 = time.perf_counter()
            words, w_ours = ours(encoder, query, text)
            cost["dowse"].append((time.perf_counter() - t0) * 1000)
            if len(words) < 10:
                continue
            t0 = time.perf_counter()
            methods = {"dowse": w_ours, "bertscore": bertscore_style(encoder, query, text, words)}
            cost["bertscore"].append((time.perf_counter() - t0) * 1000)
            if n < args.loo_queries:
                t0 = time.perf_counter()
                methods["loo"] = leave_one_out(encoder, query, text, words)
                cost["loo"].append((time.perf_counter() - t0) * 1000)
            rows_all.append(deletion_drops(encoder, query, text, words, methods, rng))
        engine.close()
        with_loo = [r for r in rows_all if "loo" in r[0]]
        for method, subset, label in (
            ("dowse", rows_all, "all"),
            ("bertscore", rows_all, "all"),
            ("dowse", with_loo, "LOO subset"),
            ("bertscore", with_loo, "LOO subset"),
            ("loo", with_loo, "LOO subset"),
        ):
            top_drop = statistics.fmean(r[0][method] for r in subset)
            random_drop = statistics.fmean(r[1] for r in subset)
            rows.append(
                f"| {name} | {method} | {label} ({len(subset)}) | {top_drop:.4f} | "
                f"{random_drop:.4f} | **{top_drop / random_drop:.1f}×** | "
                f"{statistics.median(cost[method]):.1f} |"
            )
            print(rows[-1], flush=True)
        latency_rows.append(
            f"| {name} | {len(added)} | {percentile(added, 0.5):.0f} | "
            f"{percentile(added, 0.95):.0f} |"
        )
        print(latency_rows[-1], flush=True)
    body = "\n".join([
        "Deletion test: drop in cosine after removing the top 10% of words by each method's "
        "attribution, against removing a random 10% (mean of 20 draws), top-1 semantic "
        "passage per query. Cost is the median milliseconds to attribute one passage.",
        "",
        "| collection | method | passages | drop (top 10%) | drop (random 10%) | ratio | ms |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Latency that `--explain` adds to a hybrid top-10 search (explaining all 10), in ms:",
        "",
        "| collection | queries | added p50 | added p95 |",
        "|---|---|---|---|",
        *latency_rows,
    ])
    if not args.no_write:
        write_section("attribution", "python bench/attribution.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
