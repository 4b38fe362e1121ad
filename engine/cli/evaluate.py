"""`dowse eval`: index a BEIR-layout collection through the normal pipeline and score it."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from engine.config import ensure_data_dir
from engine.search.searcher import SearchFilters


@dataclass(frozen=True)
class Collection:
    name: str
    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> grade


def load_collection(folder: Path) -> Collection:
    corpus: dict[str, tuple[str, str]] = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                corpus[str(row["_id"])] = (row.get("title") or "", row.get("text") or "")
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / "test.tsv", encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and parts[-1] == "score" or len(parts) < 3:
                continue
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    qrels = {q: d for q, d in qrels.items() if q in queries}
    return Collection(folder.resolve().name, corpus, queries, qrels)


def safe_file_name(doc_id: str) -> str:
    """A file name for any id: spaces, slashes, dots and unicode are percent-encoded."""
    encoded = quote(doc_id, safe="-_").replace(".", "%2E")
    if len(encoded) > 200:  # keep within file-name limits while staying unique
        encoded = encoded[:160] + "~" + hashlib.sha1(doc_id.encode()).hexdigest()
    return encoded + ".txt"


def write_documents(collection: Collection, folder: Path) -> dict[str, str]:
    """Write one file per document (title, blank line, text); returns file path -> doc id."""
    folder.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, str] = {}
    for doc_id, (title, text) in collection.corpus.items():
        path = folder / safe_file_name(doc_id)
        content = f"{title}\n\n{text}\n" if title else f"{text}\n"
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        mapping[str(path.resolve())] = doc_id
    return mapping


def ndcg_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    # Linear gain, as trec_eval and BEIR's pytrec_eval compute it.
    dcg = sum(grades.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], grades: Mapping[str, int], k: int) -> float:
    relevant = {d for d, g in grades.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k]):
        if grades.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def evaluate(dataset: Path, data_dir: Path, mode: str) -> dict[str, float | int | str]:
    from engine.core import Engine

    collection = load_collection(dataset)
    docs_dir = data_dir / "eval" / collection.name
    mapping = write_documents(collection, docs_dir)
    engine = Engine(data_dir)
    try:
        started = time.perf_counter()
        engine.index([docs_dir], keyword_only=(mode == "keyword"))
        index_s = time.perf_counter() - started
        # Other collections may share a --data-dir; rank only this one's files.
        only_docs = SearchFilters(folders=(str(docs_dir.resolve()),))
        judged = [
            q for q, grades in collection.qrels.items() if any(g > 0 for g in grades.values())
        ]
        ndcg, r10, r100, mrr, latencies = [], [], [], [], []
        for qid in judged:
            t0 = time.perf_counter()
            response = engine.search(collection.queries[qid], mode=mode, k=100, filters=only_docs)
            latencies.append((time.perf_counter() - t0) * 1000)
            ranked = [mapping.get(r.best.path, "") for r in response.results]
            grades = collection.qrels[qid]
            ndcg.append(ndcg_at(ranked, grades))
            r10.append(recall_at(ranked, grades, 10))
            r100.append(recall_at(ranked, grades, 100))
            mrr.append(mrr_at(ranked, grades))
    finally:
        engine.close()
    return {
        "dataset": collection.name,
        "mode": mode,
        "ndcg@10": round(statistics.fmean(ndcg), 4) if ndcg else 0.0,
        "recall@10": round(statistics.fmean(r10), 4) if r10 else 0.0,
        "recall@100": round(statistics.fmean(r100), 4) if r100 else 0.0,
        "mrr@10": round(statistics.fmean(mrr), 4) if mrr else 0.0,
        "queries": len(judged),
        "docs": len(collection.corpus),
        "index_s": round(index_s, 2),
        "query_ms_p50": round(percentile(latencies, 0.5), 2),
        "query_ms_p95": round(percentile(latencies, 0.95), 2),
    }


def run_eval_command(args: argparse.Namespace, data_dir: Path | None) -> int:
    dataset = Path(args.dataset)
    for needed in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (dataset / needed).is_file():
            print(f"dowse eval: {dataset} is not a BEIR folder ({needed} missing)", file=sys.stderr)
            return 2
    temporary = data_dir is None
    work_dir = ensure_data_dir(Path(tempfile.mkdtemp(prefix="dowse-eval-")) if temporary
                               else data_dir)  # type: ignore[arg-type]
    try:
        result = evaluate(dataset, work_dir, args.mode)
    finally:
        if temporary:
            shutil.rmtree(work_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['dataset']} ({result['mode']}): {result['docs']} docs, "
              f"{result['queries']} queries, indexed in {result['index_s']}s")
        for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
            print(f"  {key:11s} {result[key]:.4f}")
        print(f"  query ms    p50 {result['query_ms_p50']}  p95 {result['query_ms_p95']}")
    return 0
