"""The engine process as a user meets it: save-to-findable time, and query latency while busy.

A real `dowse serve` pins a folder of 5,000 SciFact documents (one file each). Then:
1. 50 edits, each appending a unique word to a random file; the time from the write to the
   word being returned by a keyword search through the engine (polled every 10 ms).
2. 100 hybrid queries idle, then 30 s of other queries while the engine indexes a second
   pinned folder (NFCorpus, 3,600 documents, embedding included); the target is a busy/idle
   p95 ratio under 3.

    .venv/bin/python bench/engine_latency.py [--files 5000] [--edits 50] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from bench.collections import DEFAULT_WORK, SHARED  # noqa: E402
from engine.cli.evaluate import load_collection, write_documents  # noqa: E402
from engine.serve.client import EngineClient  # noqa: E402

THINK_SECONDS = 0.1  # between queries, as when results update while a person types
BUSY_SECONDS = 30.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start(data: Path, runtime: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DOWSE_DATA_DIR": str(data), "DOWSE_RUNTIME_DIR": str(runtime)}
    log = open(data / "engine.log", "ab")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "engine.cli", "serve"], env=env,
                            stdout=log, stderr=log)


def connect(data: Path) -> EngineClient:
    deadline = time.monotonic() + 120
    while True:
        try:
            return EngineClient.connect(data, client="bench")
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def wait_idle(client: EngineClient) -> None:
    while True:
        status = client.status()
        if status["engine"]["activity"] == "idle" and status["queue"] == 0:
            return
        time.sleep(0.5)


def save_to_findable(client: EngineClient, docs: Path, edits: int, rng: random.Random
                     ) -> list[float]:
    files = sorted(docs.iterdir())
    latencies = []
    for i in range(edits):
        word = f"zq{i:03d}marker{rng.randrange(10**6):06d}"
        target = rng.choice(files)
        with target.open("a", encoding="utf-8") as handle:
            handle.write(f"\n\nA late addition mentions {word} once.\n")
        saved = time.perf_counter()
        while True:
            hits = client.search(word, mode="keyword", k=1)["results"]
            if hits and hits[0]["path"] == str(target):
                break
            if time.perf_counter() - saved > 60:
                raise RuntimeError(f"{word} not findable after 60 s")
            time.sleep(0.01)
        latencies.append((time.perf_counter() - saved) * 1000)
        time.sleep(0.2)  # let the engine settle, as a person between saves would
    return latencies


def query_times(client: EngineClient, queries: list[str], seconds: float = 0.0) -> list[float]:
    """Run the queries (again and again until `seconds` passed), THINK_SECONDS apart."""
    times: list[float] = []
    ends = time.perf_counter() + seconds
    while not times or time.perf_counter() < ends:
        for query in queries:
            if times and seconds and time.perf_counter() >= ends:
                break
            began = time.perf_counter()
            client.search(query, mode="hybrid", k=10)
            times.append((time.perf_counter() - began) * 1000)
            time.sleep(THINK_SECONDS)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    if not (SHARED / "scifact").is_dir() or not (SHARED / "nfcorpus").is_dir():
        print("skipped: ../shared/data/scifact and nfcorpus are needed")
        return 0
    rng = random.Random(7)
    work = DEFAULT_WORK / "engine-latency"
    shutil.rmtree(work, ignore_errors=True)
    scifact = load_collection(SHARED / "scifact")
    keep = dict(list(scifact.corpus.items())[: args.files])
    scifact = scifact.__class__(scifact.name, keep, scifact.queries, scifact.qrels)
    write_documents(scifact, work / "docs")
    nfcorpus = load_collection(SHARED / "nfcorpus")
    data = work / "data"
    data.mkdir(parents=True)
    runtime = Path(tempfile.mkdtemp(prefix="dw-"))
    process = start(data, runtime)
    try:
        client = connect(data)
        began = time.perf_counter()
        client.pin(str(work / "docs"))
        wait_idle(client)
        first_index = time.perf_counter() - began
        status = client.status()
        print(f"indexed {status['indexed']} files, {status['passages']} passages "
              f"in {first_index:.0f} s")

        latencies = save_to_findable(client, work / "docs", args.edits, rng)
        print(f"save-to-findable ms: p50 {percentile(latencies, .5):.0f} "
              f"p95 {percentile(latencies, .95):.0f}")

        # Two disjoint query sets, each longer than the engine's 64-query vector cache, so
        # every busy query is encoded afresh like every idle one.
        every = list(scifact.queries.values())
        queries, busy_queries = every[: args.queries], every[args.queries : args.queries + 400]
        query_times(client, every[-5:])  # warm-up
        idle = query_times(client, queries)
        write_documents(nfcorpus, work / "more")
        client.pin(str(work / "more"))
        busy_status = client.status()
        busy_began = time.perf_counter()
        busy = query_times(client, busy_queries, BUSY_SECONDS)
        busy_seconds = time.perf_counter() - busy_began
        after = client.status()
        assert after["queue"] > 0, "indexing finished before the busy queries did"
        indexed_meanwhile = busy_status["queue"] - after["queue"]
        print(f"queries idle p50 {percentile(idle, .5):.0f} p95 {percentile(idle, .95):.0f}; "
              f"busy p50 {percentile(busy, .5):.0f} p95 {percentile(busy, .95):.0f} ms")
        ratio = percentile(busy, .95) / percentile(idle, .95)
        print(f"p95 ratio busy/idle: {ratio:.2f} ({len(busy)} busy queries; the engine "
              f"indexed {indexed_meanwhile} files meanwhile, "
              f"{indexed_meanwhile / busy_seconds:.1f} files/s)")
        client.shutdown()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(120)
    result = {
        "files": len(keep), "first_index_s": round(first_index, 1),
        "save_to_findable_ms": {"p50": percentile(latencies, .5),
                                "p95": percentile(latencies, .95)},
        "query_idle_ms": {"p50": percentile(idle, .5), "p95": percentile(idle, .95)},
        "query_busy_ms": {"p50": percentile(busy, .5), "p95": percentile(busy, .95)},
        "p95_ratio": ratio, "mean_idle_ms": statistics.mean(idle),
        "indexed_while_busy": indexed_meanwhile,
    }
    print(json.dumps(result))
    if not args.no_write:
        body = (
            f"A real `dowse serve` pinning {len(keep)} SciFact documents (one file each; "
            f"first full index {first_index:.0f} s, with embedding).\n\n"
            "| measure | p50 ms | p95 ms |\n|---|---|---|\n"
            f"| save to findable ({args.edits} edits, keyword search polled every 10 ms) | "
            f"{percentile(latencies, .5):.0f} | {percentile(latencies, .95):.0f} |\n"
            f"| hybrid query, idle ({len(queries)} SciFact queries, client side) | "
            f"{percentile(idle, .5):.0f} | {percentile(idle, .95):.0f} |\n"
            f"| {len(busy)} other SciFact queries over {busy_seconds:.0f} s while NFCorpus "
            "is indexed | "
            f"{percentile(busy, .5):.0f} | {percentile(busy, .95):.0f} |\n\n"
            f"Queries are {THINK_SECONDS * 1000:.0f} ms apart, as when results follow typing. "
            f"While the busy queries ran the engine indexed {indexed_meanwhile} NFCorpus files "
            f"({indexed_meanwhile / busy_seconds:.1f} files/s, embedding included).\n\n"
            f"Busy/idle p95 ratio: **{ratio:.2f}** (target < 3). The debounce "
            "(`watch.debounce_seconds`, 0.5 s) is most of the save-to-findable time."
        )
        write_section("Engine process latency", "python bench/engine_latency.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
