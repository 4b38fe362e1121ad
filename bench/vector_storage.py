"""Does int8 vector storage keep quality? The same indexes with float16 and with int8 vectors.

`chunks.vector` now holds each vector as int8 with a float32 scale (engine/store/vector_blobs.py,
388 bytes at 384 dimensions) instead of float16 (768). This takes data dirs already built by
`dowse eval` on the shared collections (one per collection, with vectors), copies each twice,
rewrites every stored vector of one copy to int8 (the other keeps float16, as an index built
before the change does), and runs `dowse eval --mode semantic|hybrid` on both copies. The HNSW
graph is the same file in both; what changes is every reader of the stored vectors: the exact
rescoring of the graph's candidates, filtered search, near-duplicate grouping.

    .venv/bin/python bench/vector_storage.py --built /tmp/final_q [--work /tmp/dowse-q8]
        [--data ../shared/data] [--no-write]

`--built DIR` holds one data dir per collection (DIR/scifact, …), each made by
`dowse eval ../shared/data/NAME --data-dir DIR/NAME`. Skips a collection without one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from engine.store.vector_blobs import decode_vectors, encode_vectors  # noqa: E402

COLLECTIONS = ("cisi", "cranfield", "nfcorpus", "scifact")
MODES = ("semantic", "hybrid")


def to_int8(db: Path) -> tuple[int, int, int]:
    """Rewrite every float16 vector as int8: (vectors, bytes before, bytes after)."""
    conn = sqlite3.connect(db)
    dim = int(conn.execute("SELECT value FROM meta WHERE key = 'model_dim'").fetchone()[0])
    rows = conn.execute("SELECT id, vector FROM chunks WHERE vector IS NOT NULL").fetchall()
    before = sum(len(r[1]) for r in rows)
    blobs = encode_vectors(decode_vectors([bytes(r[1]) for r in rows], dim))
    with conn:
        conn.executemany("UPDATE chunks SET vector = ? WHERE id = ?",
                         [(b, int(r[0])) for b, r in zip(blobs, rows, strict=True)])
    conn.execute("VACUUM")
    conn.close()
    return len(rows), before, sum(len(b) for b in blobs)


def evaluate(dataset: Path, data_dir: Path, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "eval", str(dataset), "--mode", mode, "--json",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def arguments(doc: str | None, work: Path) -> argparse.Namespace | None:
    """The options both copy-and-compare benchmarks take; None when the collections are absent."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--built", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=work)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"skipped: no shared collections at {args.data}")
        return None
    return args


def fresh_copies(
    args: argparse.Namespace, name: str, kinds: tuple[str, ...]
) -> dict[str, Path] | None:
    """New copies of the collection's built data dir, one per kind; None without one."""
    built = args.built / name
    if not (built / "dowse.sqlite3").is_file() or not (args.data / name).is_dir():
        print(f"{name}: no built data dir under {args.built}; skipped")
        return None
    copies = {}
    for kind in kinds:
        copies[kind] = args.work / f"{name}-{kind}"
        shutil.rmtree(copies[kind], ignore_errors=True)
        shutil.copytree(built, copies[kind])
    return copies


def main() -> None:
    args = arguments(__doc__, Path("/tmp/dowse-q8"))
    if args is None:
        return
    lines = ["| collection | vectors | float16 MB | int8 MB | mode | nDCG@10 float16 | "
             "nDCG@10 int8 | change | recall@100 float16 | recall@100 int8 |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    worst = 0.0
    for name in COLLECTIONS:
        copies = fresh_copies(args, name, ("float16", "int8"))
        if copies is None:
            continue
        count, before, after = to_int8(copies["int8"] / "dowse.sqlite3")
        for mode in MODES:
            old = evaluate(args.data / name, copies["float16"], mode)
            new = evaluate(args.data / name, copies["int8"], mode)
            change = new["ndcg@10"] - old["ndcg@10"]
            worst = change if abs(change) > abs(worst) else worst
            line = (f"| {name} | {count:,} | {before / 1e6:.1f} | {after / 1e6:.1f} | {mode} | "
                    f"{old['ndcg@10']:.4f} | {new['ndcg@10']:.4f} | {change:+.4f} | "
                    f"{old['recall@100']:.4f} | {new['recall@100']:.4f} |")
            print(line, flush=True)
            lines.append(line)
    body = "\n".join(lines) + (
        f"\n\nLargest change in nDCG@10: {worst:+.4f} (bound: 0.005). Each copy is the same "
        "index; only the stored vectors' format differs (the HNSW graph file is shared).\n"
    )
    print(body)
    if not args.no_write:
        write_section("vector-storage", "python bench/vector_storage.py --built "
                      f"{args.built}", body)


if __name__ == "__main__":
    main()
