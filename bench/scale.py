"""What a large index costs: disk, memory, start-up and latency at 10k, 100k and 1M passages.

How the indexes are made on a 2-core machine (bench/scale_corpus.py, bench/scale_build.py):
the four shared collections' documents, chunked by the engine's chunker, replicated with
light perturbation (replica r > 0 drops and swaps about 4% of the words each) until the size
is reached. The first `--real` passages of that stream (all of replica 0, then replica 1, ...)
have real all-MiniLM-L6-v2 vectors, embedded once and cached under /tmp/scale_cache; every
later passage gets its replica-0 source's real vector plus Gaussian noise, re-normalised,
the noise chosen so the cosine to the source matches real replicas'. Every file is written
to disk and recorded by Store.record_file with its float16 vectors; the HNSW file is made
by the engine's SemanticIndex from SQLite. Built data dirs are cached, so `--reuse` reruns
only the measurements.

Then, per size, a real `dowse serve` on the data dir: time to the first keyword and the first
semantic answer, RSS of every process of the engine (children included, by walking the
process tree) idle and at its peak under queries, keyword / semantic / hybrid p50 and p95 over
real queries (client side, k = 10) with and without a folder filter (the cranfield
subfolder), and in-process the HNSW recall@10 of the engine's index against exact search
over all stored vectors, for real query vectors.

    .venv/bin/python bench/scale.py [--sizes 10k,100k,1M] [--reuse] [--real 100000]
        [--queries 200] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from bench.scale_build import build, parse_size, size_label  # noqa: E402
from bench.scale_corpus import CACHE, cached_real, embed_real, query_texts, query_vectors  # noqa: E402
from bench.scale_plot import plot  # noqa: E402
from engine.store.keyword_build import build_keyword_index  # noqa: E402
from engine.store.keyword_index import KEYWORD_FILE  # noqa: E402

MODES = ("keyword", "semantic", "hybrid")
IDLE_EXIT = 20  # seconds: the engine's embedding child exits this long after its last query


def process_tree_rss(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def disk_usage(data: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in sorted(data.rglob("*")):
        if path.is_file():
            sizes[str(path.relative_to(data))] = path.stat().st_size
    return sizes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_engine(data: Path, queries: list[str], folder: str) -> dict[str, Any]:
    from engine.serve.client import EngineClient, EngineUnavailableError

    runtime = Path(tempfile.mkdtemp(prefix="dw-"))
    (data / "config.toml").write_text(f"[embed]\nidle_exit_seconds = {IDLE_EXIT}\n")
    env = {**os.environ, "DOWSE_DATA_DIR": str(data), "DOWSE_RUNTIME_DIR": str(runtime),
           "HF_HUB_OFFLINE": "1"}
    log = open(data / "scale-engine.log", "ab")  # noqa: SIM115  # the child keeps it
    began = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve"], env=env,
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    out: dict[str, Any] = {}
    client = None
    try:
        while client is None:
            try:
                client = EngineClient.connect(data, timeout=5.0, client="bench")
            except EngineUnavailableError:
                if process.poll() is not None or time.monotonic() - began > 600:
                    raise
                time.sleep(0.02)
        while True:
            try:
                client.search(queries[0], mode="keyword", k=10)
                break
            except Exception:  # noqa: BLE001  # not answering yet
                time.sleep(0.02)
        out["first_keyword_s"] = time.monotonic() - began
        while True:
            try:
                reply = client.search(queries[0], mode="semantic", k=10)
                if "semantic" not in reply.get("not_ready", []):
                    break
            except Exception:  # noqa: BLE001
                pass
            if time.monotonic() - began > 1800:
                raise TimeoutError("no semantic answer in 30 minutes")
            time.sleep(0.05)
        out["first_semantic_s"] = time.monotonic() - began
        for _ in range(600):  # wait for the start-up scan to finish
            status = client.status()
            if status.get("engine", {}).get("activity") == "idle" and not status.get("queue"):
                break
            time.sleep(0.5)
        out["ready_idle_s"] = time.monotonic() - began
        time.sleep(3)
        out["rss_idle"] = process_tree_rss(process.pid)
        peak = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], process_tree_rss(process.pid))
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        for mode in MODES:
            for filtered in (False, True):
                options: dict[str, Any] = {"mode": mode, "k": 10}
                if filtered:
                    options["folders"] = (folder,)
                client.search(queries[-1], **options)  # warm this path
                times = []
                for query in queries:
                    start = time.perf_counter()
                    client.search(query, **options)
                    times.append((time.perf_counter() - start) * 1000)
                key = f"{mode}{'_folder' if filtered else ''}"
                out[f"{key}_p50"] = percentile(times, 0.5)
                out[f"{key}_p95"] = percentile(times, 0.95)
        stop.set()
        sampler.join()
        out["rss_queries_peak"] = peak[0]
        out["processes_busy"] = _process_count(process.pid)
        # The embedding child exits after IDLE_EXIT s without a request (config.toml below).
        deadline = time.monotonic() + IDLE_EXIT + 60
        while _process_count(process.pid) >= out["processes_busy"] and (
            time.monotonic() < deadline
        ):
            time.sleep(1)
        time.sleep(2)
        out["rss_after_idle_exit"] = process_tree_rss(process.pid)
        out["processes_after_idle_exit"] = _process_count(process.pid)
        start = time.perf_counter()
        client.search(queries[1], mode="hybrid", k=10)
        out["first_hybrid_after_idle_s"] = time.perf_counter() - start
    finally:
        if client is not None:
            client.close()
        process.terminate()
        try:
            process.wait(120)
        except subprocess.TimeoutExpired:
            process.kill()
    return out


def _process_count(pid: int) -> int:
    import psutil

    try:
        return 1 + len(psutil.Process(pid).children(recursive=True))
    except psutil.NoSuchProcess:
        return 0


def bare_fts_ms(data: Path, queries: list[str]) -> tuple[float, float]:
    """The peer: p50 and p95 of a bare FTS5 top-10 query over the same database, in-process."""
    import re
    import sqlite3

    conn = sqlite3.connect(f"{(data / 'dowse.sqlite3').as_uri()}?mode=ro", uri=True)
    times = []
    for query in queries:
        words = " OR ".join(f'"{w}"' for w in re.findall(r"\w+", query))
        start = time.perf_counter()
        conn.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank "
                     "LIMIT 10", (words,)).fetchall()
        times.append((time.perf_counter() - start) * 1000)
    conn.close()
    return percentile(times, 0.5), percentile(times, 0.95)


def measure_recall(data: Path, queries: np.ndarray) -> dict[str, float]:
    """The engine's index (as the engine opens it) against exact search over SQLite."""
    from bench.scale_build import StubEncoder
    from engine.config import load_config
    from engine.search.semantic import SemanticIndex, from_blobs
    from engine.store import Store

    store = Store.open_in(data)
    semantic = SemanticIndex(store, StubEncoder(), data, load_config(data).index)  # type: ignore[arg-type]
    began = time.perf_counter()
    found = np.stack([semantic.index.search(q, 10, None, semantic._fetcher(store))[0][0]
                      for q in queries])
    per_query_ms = (time.perf_counter() - began) * 1000 / len(queries)
    best = np.full((len(queries), 10), -2.0, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    rows = store.conn.execute("SELECT id, vector FROM chunks WHERE vector IS NOT NULL")
    while batch := rows.fetchmany(65_536):
        ids = np.fromiter((int(r[0]) for r in batch), np.int64, len(batch))
        scores = queries @ from_blobs([bytes(r[1]) for r in batch], 384).T
        all_scores = np.hstack([best, scores])
        all_ids = np.hstack([best_ids, np.broadcast_to(ids, scores.shape)])
        top = np.argsort(-all_scores, axis=1)[:, :10]
        best, best_ids = np.take_along_axis(all_scores, top, 1), np.take_along_axis(all_ids, top, 1)
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, best_ids, strict=True))
    projection = semantic.index.projection
    store.close()
    return {"recall_at_10": hits / best_ids.size, "index_ms": per_query_ms,
            "graph_dims": projection.reduced if projection is not None else 384}


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    mb = 1 << 20
    lines = [
        "One row per size; latency is client side over the engine's socket, k = 10, "
        f"{args.queries} real queries from the four collections (warm). RSS: every process "
        "of the engine, children included. 'beyond text': (data dir − the passages' own "
        "text in UTF-8) per passage. Folder filter: the cranfield subfolder.",
        "",
        "| passages (real vectors) | data dir MB | bytes/passage | beyond text | HNSW graph dims "
        "| first keyword s | first semantic s | idle RSS MB | peak RSS under queries MB "
        "| keyword p50/p95 | filtered | semantic p50/p95 | filtered | hybrid p50/p95 | filtered "
        "| recall@10 |",
        "|" + "---|" * 16,
    ]
    idle = [
        "", "After the queries the embedding child exits when idle "
        f"(`embed.idle_exit_seconds` = {IDLE_EXIT} here, 300 by default); then:", "",
        "| passages | engine processes busy → idle | RSS after the child's exit MB "
        "| first hybrid query after it s | peer: bare FTS5 top-10 p50/p95 ms (in-process) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        e = r["engine"]

        def lat(key: str, e: dict[str, Any] = e) -> str:
            return f"{e[key + '_p50']:.0f} / {e[key + '_p95']:.0f}"

        lines.append(
            f"| {r['passages']:,} ({r['real']:,}) | {r['disk_total'] / mb:,.0f} "
            f"| {r['per_passage']:,.0f} | {r['beyond_text']:,.0f} | {r['recall']['graph_dims']} "
            f"| {e['first_keyword_s']:.1f} | {e['first_semantic_s']:.1f} "
            f"| {e['rss_idle'] / mb:,.0f} | {e['rss_queries_peak'] / mb:,.0f} "
            f"| {lat('keyword')} | {lat('keyword_folder')} | {lat('semantic')} "
            f"| {lat('semantic_folder')} | {lat('hybrid')} | {lat('hybrid_folder')} "
            f"| {r['recall']['recall_at_10']:.4f} |")
        idle.append(
            f"| {r['passages']:,} | {e['processes_busy']} → {e['processes_after_idle_exit']} "
            f"| {e['rss_after_idle_exit'] / mb:,.0f} | {e['first_hybrid_after_idle_s']:.2f} "
            f"| {r['peer_fts'][0]:.1f} / {r['peer_fts'][1]:.1f} |")
    lines += idle
    lines += ["", "Data dir, bytes per passage by file:", "",
              "| passages | " + " | ".join(sorted({k for r in results for k in r['files']})) + " |"]
    names = sorted({k for r in results for k in r["files"]})
    lines.append("|" + "---|" * (len(names) + 1))
    for r in results:
        lines.append(f"| {r['passages']:,} | " + " | ".join(
            f"{r['files'].get(n, 0) / r['passages']:,.0f}" for n in names) + " |")
    largest = results[-1]
    lines += ["", f"Real model vectors: the first {largest['real']:,} passages of the stream; "
              f"later ones derived (noise {largest['build']['noise']:.4f} a dimension, cosine "
              f"{largest['build']['replica_cosine']:.3f} to the source, as real replicas "
              "show). Recall@10: the engine's own index against exact search over every "
              "stored vector, for real query vectors. First semantic answer includes loading "
              "the model, and in a new data dir its one-time precision check (cached after). "
              "Latency and start-up are only comparable within one run: this machine's 2 cores "
              "may be shared; the peer column (a bare FTS5 OR query, ranked, over the same "
              "database) was slowed alike.",
              "", "From `[search] keyword_index_min` passages (250,000) the engine keeps a "
              "keyword index of its own beside FTS5 (`keywords.postings`, "
              "engine/store/keyword_index.py): the same BM25 from gap-coded postings "
              "(engine/store/postings_codec.py), with MaxScore pruning, passages and files "
              "ranked on two threads. That is why keyword and hybrid latency drop from 100k "
              "to 1M, and why the data dir costs more a passage at 1M than at 100k: the "
              f"file is {_keyword_file_per_passage(results)} (its build time is "
              "`keyword_index_s` below). Smaller indexes go to FTS5 alone, whose cost grows "
              "with the matches (the 100k row)."]
    if not any(r["passages"] >= 1_000_000 for r in results):
        rate = largest["passages"] / max(largest["timings"].get("record_s", 1), 1)
        lines += ["", f"1M was not built in this run: recording ran at {rate:,.0f} passages/s "
                  f"here, so 1M would take about {1_000_000 / rate / 60:,.0f} minutes plus "
                  "the graph; `--sizes 1M` builds it."]
    lines += ["", "Phase timings (s): " + "; ".join(
        f"{r['passages']:,}: " + ", ".join(f"{k} {v:,.0f}" for k, v in r["timings"].items())
        for r in results), "", "![cost per passage](docs/scale.png)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10k,100k,1M")
    parser.add_argument("--reuse", action="store_true", help="keep data dirs built before")
    parser.add_argument("--real", type=int, default=100_000,
                        help="passages with real model vectors (embedded once, cached)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: write the report from each size's last results")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    if args.report_only:
        results = [json.loads(_result_path(args.cache, size).read_text()) for size in sizes]
        _write(results, args)
        return
    began = time.monotonic()
    real = cached_real(args.cache)
    if len(real) < args.real:
        real = embed_real(args.real, args.cache)
    real = real[: args.real]
    embed_s = time.monotonic() - began
    qvectors = query_vectors(args.cache)[: args.queries]
    texts = query_texts(args.queries)
    results = []
    for size in sizes:
        timings = {"embed_s": embed_s} if not results else {}
        began = time.monotonic()
        data = build(size, real, args.cache, args.reuse)
        built = json.loads((data / "scale-build.json").read_text())
        timings.update(build_s=time.monotonic() - began,
                       **{k: v for k, v in built.items() if k.endswith("_s")})
        # The keyword index the engine keeps from keyword_index_min passages on, built as
        # the engine builds it when its queue drains, timed here (engine/store/keyword_index).
        began = time.monotonic()
        if _keyword_index_due(data):
            build_keyword_index(data / "dowse.sqlite3")
            timings["keyword_index_s"] = time.monotonic() - began
        files = disk_usage(data)
        files = {k: v for k, v in files.items() if not k.startswith(("scale-", "cache/"))}
        from engine.store import Store

        store = Store.open_in(data)
        text_bytes = sum(len(str(r[0]).encode()) for r in store.conn.execute(
            "SELECT text FROM chunks"))
        store.close()
        began = time.monotonic()
        recall = measure_recall(data, qvectors)
        timings["recall_s"] = time.monotonic() - began
        peer = bare_fts_ms(data, texts)
        began = time.monotonic()
        folder = str(args.cache / f"docs-{size_label(size)}" / "cranfield")
        engine = measure_engine(data, texts, folder)
        timings["engine_s"] = time.monotonic() - began
        total = sum(files.values())
        passages = int(built["passages"])
        result = {"passages": passages, "real": int(built["real"]), "files": files,
                  "disk_total": total, "per_passage": total / passages,
                  "beyond_text": (total - text_bytes) / passages, "recall": recall,
                  "engine": engine, "timings": timings, "build": built, "peer_fts": peer}
        print(json.dumps(result, default=float), flush=True)
        results.append(result)
        _result_path(args.cache, size).write_text(json.dumps(result, default=float))
    _write(results, args)


def _keyword_file_per_passage(results: list[dict[str, Any]]) -> str:
    sizes = [f"{r['files'][KEYWORD_FILE] / r['passages']:,.0f} bytes a passage at "
             f"{r['passages']:,}" for r in results if r["files"].get(KEYWORD_FILE)]
    return ", ".join(sizes) or "not built in this run"


def _keyword_index_due(data: Path) -> bool:
    from engine.config import SearchConfig
    from engine.store import Store

    store = Store.open_in(data)
    try:
        rows = int(store.conn.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()[0])
    finally:
        store.close()
    return rows >= SearchConfig().keyword_index_min


def _result_path(cache: Path, size: int) -> Path:
    return cache / f"scale-result-{size_label(size)}.json"


def _write(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    text = report(results, args)
    print(text)
    if not args.no_write:
        plot(results, REPO / "docs" / "scale.png")
        write_section("scale", f"python bench/scale.py --sizes {args.sizes} --real {args.real}",
                      text)


if __name__ == "__main__":
    main()
