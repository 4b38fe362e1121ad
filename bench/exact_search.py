"""A small index searched exactly (IndexConfig.exact_below) against its HNSW graph (the peer),
side by side in one run: what each finds next to a flood of near-alike passages, and what a
query costs.

    .venv/bin/python bench/exact_search.py [--no-write]

Finding: the hostile folder the tests build (tests/hostile/kinds.py, needs nothing installed)
is indexed by `dowse index` with the real model; its stored vectors go into a VectorIndex
twice over: in the order the index made them, and in the order a served index lives through
(the other files, then the growing log indexed and re-indexed under new ids, saved between,
so deleted slots are scrubbed and reused). Each history runs with exact_below=0 (the graph
alone, at the default M, ef_construction and ef) and with the default exact_below. In the
served hostile test the graph alone lost garden.txt to growing.log's 2,000 nearly equal
lines. Synthetic floods (python3-doc passages, odd clusters or copies, then 2,000 log lines)
lost nothing: the loss needs the whole mix, so the real folder is used.

Cost: 20,000 random unit vectors (384-d); 200 queries each way, and the first search after a
change, which reads the vectors out of the graph's state.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.benchmarks_md import write_section  # noqa: E402
from engine.config import EmbedConfig, IndexConfig  # noqa: E402
from engine.embed.transformer import TransformerEncoder  # noqa: E402
from engine.store.vector_blobs import decode_vectors  # noqa: E402
from engine.vectors.index import VectorIndex  # noqa: E402

APPENDED = 16_000  # lines: growing.log then holds about 2,000 passages, as it did served
REINDEXED = 3  # times the log is indexed again, as the watcher does while it grows


def _replay(index: VectorIndex, labels: np.ndarray, vectors: np.ndarray, others: np.ndarray,
            log: np.ndarray) -> np.ndarray:
    """What a served index lives through: the other files, then the growing log indexed
    REINDEXED times under new passage ids, saved between (deleted slots are scrubbed and
    reused). Returns the log's last ids, row for row."""
    index.add(labels[others], vectors[others])
    fresh = int(labels.max()) + 1
    current = np.arange(fresh, fresh + len(log))
    for round_no in range(REINDEXED):
        if round_no:
            index.delete(current)
            index.save()
            current = current + len(log)
        index.add(current, vectors[log])
        index.save()
    return current


def _finding(work: Path) -> str:
    """The hostile folder indexed by `dowse index`, its vectors put in an index through each
    history, and both searches asked what the hostile tests ask."""
    from tests.hostile.kinds import GOOD, build_folder

    root, data = work / "pinned", work / "data"
    build_folder(root)
    growing = root / "growing.log"
    with open(growing, "a") as handle:  # what the served test's writer appends in its 3 s
        handle.writelines(f"appended {n}: a request came in and was answered\n"
                          for n in range(APPENDED))
    indexed = subprocess.run(
        [sys.executable, "-m", "engine.cli", "--data-dir", str(data), "index", str(root)],
        capture_output=True, text=True, timeout=1800, check=False,
    )
    if indexed.returncode not in (0, 1):  # 1: some hostile files failed, as they should
        raise SystemExit(f"dowse index failed: {indexed.stderr[-2000:]}")
    conn = sqlite3.connect(data / "dowse.sqlite3")
    conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")  # odd names
    rows = conn.execute(
        "SELECT c.id, c.vector, f.path FROM chunks c JOIN files f ON f.id = c.file_id "
        "WHERE c.vector IS NOT NULL ORDER BY c.id").fetchall()
    conn.close()
    labels = np.array([r[0] for r in rows], dtype=np.int64)
    vectors = decode_vectors([r[1] for r in rows], 384)
    paths = [r[2] for r in rows]
    with tempfile.TemporaryDirectory() as cache:
        questions = TransformerEncoder(EmbedConfig(), Path(cache)).encode_queries(
            [g.query for g in GOOD])
    wanted = [str(root / "good" / g.name) for g in GOOD]
    is_log = np.array([p == str(growing) for p in paths])
    others, log = np.flatnonzero(~is_log), np.flatnonzero(is_log)
    row_of = {int(label): row for row, label in enumerate(labels)}
    lines = []
    for history in ("once, in id order", f"log re-indexed {REINDEXED}x"):
        for name, exact_below in (("HNSW graph (peer)", 0), ("exact", IndexConfig().exact_below)):
            with tempfile.TemporaryDirectory() as tmp:
                index = VectorIndex(Path(tmp) / "v.hnsw", vectors.shape[1],
                                    dataclasses.replace(IndexConfig(), exact_below=exact_below))
                if history.startswith("once"):
                    index.add(labels, vectors)
                else:
                    replayed = _replay(index, labels, vectors, others, log)
                    row_of.update(zip(replayed.tolist(), log.tolist(), strict=True))
                _, scores = index.search(vectors[others], 1)
                own = np.einsum("ij,ij->i", vectors[others], vectors[others])
                lost = int((scores[:, 0] < own - 1e-4).sum())
                found, _ = index.search(questions, 1)
                right = sum(paths[row_of[int(f[0])]] == w
                            for f, w in zip(found, wanted, strict=True))
                lines.append(f"| {history} | {name} | {lost} of {len(others):,} | "
                             f"{right} of {len(GOOD)} |")
    head = (
        f"The hostile folder of tests/hostile (built by its `build_folder`) indexed by `dowse "
        f"index`: {len(labels):,} passages with a vector, {len(log):,} of them growing.log's "
        "nearly equal lines, and many line-less-prose.txt copies sharing one vector. Each "
        "passage's own vector asks for it again; each planted file's question asks for its "
        "best passage, which must be that file's, as tests/hostile asks.\n\n"
        "| history | search | other passages not found by their own vector | questions "
        "answered by their file |\n|---|---|---|---|\n"
    )
    return head + "\n".join(lines)


def _cost(n: int = 20_000, queries: int = 200) -> str:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((n, 384)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    asks = data[:queries] + 0.1 * rng.standard_normal((queries, 384)).astype(np.float32)
    rows = []
    for name, exact_below in (("HNSW graph (peer)", 0), ("exact", n)):
        with tempfile.TemporaryDirectory() as tmp:
            index = VectorIndex(Path(tmp) / "v.hnsw", 384,
                                dataclasses.replace(IndexConfig(), exact_below=exact_below))
            index.add(np.arange(n), data)
            started = time.perf_counter()
            index.search(asks[0], 10)
            first = (time.perf_counter() - started) * 1000
            times = []
            for ask in asks:
                started = time.perf_counter()
                index.search(ask, 10)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            rows.append((name, first, statistics.median(times), times[int(0.95 * len(times))]))
    peer = rows[0][2]
    lines = [f"| {name} | {first:.1f} | {p50:.2f} | {p95:.2f} | {peer / p50:.2f}× |"
             for name, first, p50, p95 in rows]
    return (f"{n:,} random unit vectors, {queries} queries for 10 each:\n\n"
            "| search | first after a change, ms | p50 ms | p95 ms | speed against the peer |\n"
            "|---|---|---|---|---|\n" + "\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print, don't touch BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        finding = _finding(Path(work))
    body = finding + "\n\n" + _cost()
    print(body)
    if not args.no_write:
        write_section("exact-search", "python bench/exact_search.py", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
