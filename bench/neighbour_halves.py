"""Does the neighbour column need all of each neighbour, or only its nearer half?

The passage FTS5 index (schema migration 9) indexes each passage with a second column, its
neighbours' text, derived by the view `chunks_nearby`. That column is two thirds of the passage
index (BENCHMARKS.md, disk-usage). This copies data dirs built by `dowse eval` (one per shared
collection), redefines the view in one copy to keep only the half of each neighbour nearer the
passage (the end of the one before, the start of the one after), rebuilds that copy's passage
index, and runs `dowse eval --mode keyword|hybrid` on both copies.

    .venv/bin/python bench/neighbour_halves.py --built /tmp/final_q [--work /tmp/dowse-halves]
        [--data ../shared/data] [--no-write]
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from bench.vector_storage import COLLECTIONS, arguments, evaluate, fresh_copies  # noqa: E402

HALVES = """SELECT c.id, c.text,
        coalesce(substr(p.text, 1 + length(p.text) / 2), '') || char(10)
        || coalesce(substr(n.text, 1, (length(n.text) + 1) / 2), '')
        FROM chunks c
        LEFT JOIN chunks p ON p.file_id = c.file_id AND p.ordinal = c.ordinal - 1
        LEFT JOIN chunks n ON n.file_id = c.file_id AND n.ordinal = c.ordinal + 1"""


def fts_bytes(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'chunks_fts_data'")
        return int(row.fetchone()[0] or 0)
    finally:
        conn.close()


def to_halves(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("DROP VIEW chunks_nearby")
    conn.execute(f"CREATE VIEW chunks_nearby(id, text, nearby) AS {HALVES}")
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    conn.execute("COMMIT")
    conn.execute("VACUUM")
    conn.close()


def main() -> None:
    args = arguments(__doc__, Path("/tmp/dowse-halves"))
    if args is None:
        return
    lines = ["| collection | passage index MB: whole | halves | mode | nDCG@10 whole | "
             "halves | change |", "|---|---|---|---|---|---|---|"]
    worst = 0.0
    for name in COLLECTIONS:
        copies = fresh_copies(args, name, ("whole", "halves"))
        if copies is None:
            continue
        to_halves(copies["halves"] / "dowse.sqlite3")
        sizes = [fts_bytes(copies[k] / "dowse.sqlite3") / 1e6 for k in ("whole", "halves")]
        for mode in ("keyword", "hybrid"):
            old = evaluate(args.data / name, copies["whole"], mode)
            new = evaluate(args.data / name, copies["halves"], mode)
            change = new["ndcg@10"] - old["ndcg@10"]
            worst = change if abs(change) > abs(worst) else worst
            line = (f"| {name} | {sizes[0]:.1f} | {sizes[1]:.1f} | {mode} | "
                    f"{old['ndcg@10']:.4f} | {new['ndcg@10']:.4f} | {change:+.4f} |")
            print(line, flush=True)
            lines.append(line)
    body = "\n".join(lines) + f"\n\nLargest change in nDCG@10: {worst:+.4f} (bound: 0.005).\n"
    print(body)
    if not args.no_write:
        write_section("neighbour-halves", f"python bench/neighbour_halves.py --built {args.built}",
                      body)


if __name__ == "__main__":
    main()
