"""Indexing throughput on SciFact written as one file per document, keyword side only.

Peer, in the same run: a bare SQLite FTS5 load of the same files (read each file, insert its
whole text), the floor that any FTS5-based indexer pays. Usage:

    .venv/bin/python bench/index_throughput.py [--dataset ../shared/data/scifact] [--json]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from engine.cli.evaluate import load_collection, write_documents  # noqa: E402


def bare_fts5(folder: Path, db_path: Path) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(path, text, tokenize='porter unicode61')")
    with conn:
        for path in sorted(folder.iterdir()):
            conn.execute("INSERT INTO docs VALUES (?, ?)", (str(path), path.read_text()))
    conn.close()
    return time.perf_counter() - started


def dowse_index(folder: Path, data_dir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "dowse"), "index", "--keyword-only", "--data-dir",
         str(data_dir), str(folder)],
        check=True, stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    dataset = Path(args.dataset)
    if not (dataset / "corpus.jsonl").is_file():
        print(f"skipped: {dataset} not found")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        write_documents(load_collection(dataset), docs)
        files = list(docs.iterdir())
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        dowse_s = dowse_index(docs, Path(tmp) / "data")
        bare_s = bare_fts5(docs, Path(tmp) / "bare.sqlite3")
    result = {
        "files": len(files),
        "mb": round(megabytes, 2),
        "dowse_s": round(dowse_s, 2),
        "dowse_files_per_s": round(len(files) / dowse_s, 1),
        "dowse_mb_per_s": round(megabytes / dowse_s, 3),
        "bare_fts5_s": round(bare_s, 2),
        "ratio_bare_over_dowse": round(bare_s / dowse_s, 3),
    }
    body = (
        "| indexer | seconds | files/s | MB/s |\n|---|---|---|---|\n"
        f"| dowse index --keyword-only | {dowse_s:.2f} | {len(files) / dowse_s:.1f} "
        f"| {megabytes / dowse_s:.3f} |\n"
        f"| bare FTS5 insert (peer) | {bare_s:.2f} | {len(files) / bare_s:.1f} "
        f"| {megabytes / bare_s:.3f} |\n\n"
        f"{dataset.name}: {len(files)} files, {megabytes:.2f} MB. The dowse run includes process "
        "start, tokenizer load, walking, hashing, extraction, chunking and FTS5 indexing; the "
        "peer only reads each file and inserts it whole."
    )
    if args.json:
        print(json.dumps(result))
    else:
        print(body)
    if not args.no_write:
        write_section("index-throughput", "python bench/index_throughput.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
