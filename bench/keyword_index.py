"""The keyword index against FTS5's own bm25(), side by side on one database, in one process.

    python bench/keyword_index.py [--data DIR] [--queries 200] [--rebuild] [--no-write]

DIR is a data dir; by default the 1M one that bench/scale.py builds (run that first; this
skips with a message when it is missing). For every real question of the four shared
collections (as bench/scale.py picks them) both sides rank the passages (pool 100, as keyword
mode asks) and the files (pool 1000), and the answers are compared: ids in order, scores to
1e-9 relative. Reported: p50 / p95 of each side, the build time and the file's size.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchmarks_md import write_section  # noqa: E402
from bench.scale_corpus import CACHE, query_texts  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.store.keyword import document_search, keyword_search, postings_search  # noqa: E402
from engine.store.keyword_build import build_keyword_index  # noqa: E402
from engine.store.keyword_index import KEYWORD_FILE, open_keyword_index  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def same(ours: list[tuple[int, float]], theirs: list[tuple[int, float]]) -> bool:
    if len(ours) != len(theirs):
        return False
    return all(a == c and math.isclose(b, d, rel_tol=1e-9)
               for (a, b), (c, d) in zip(ours, theirs, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=CACHE / "data-1M")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rebuild", action="store_true", help="build the index anew, timed")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    db = args.data / "dowse.sqlite3"
    if not db.exists():
        print(f"skipped: no data dir at {args.data} (run bench/scale.py first, or --data DIR)")
        return
    try:
        texts = query_texts(args.queries)
    except FileNotFoundError as exc:
        print(f"skipped: the shared collections' questions are missing ({exc})")
        return
    store = Store.open_in(args.data)
    build_s = None
    index = open_keyword_index(db)
    if args.rebuild or index is None or not index.fresh(store.conn):
        began = time.monotonic()
        build_keyword_index(db)
        build_s = time.monotonic() - began
        index = open_keyword_index(db)
    assert index is not None
    passages = int(store.conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
    ours_ms, fts_ms, differ = [], [], 0
    for text in texts:
        began = time.perf_counter()
        both = postings_search(store.conn, index, text, 100, 1000)
        assert both is not None
        hits, files = both[0].result(), both[1].result()
        middle = time.perf_counter()
        fts_hits = keyword_search(store.conn, text, 100)
        fts_files = document_search(store.conn, text, 1000)
        ended = time.perf_counter()
        ours_ms.append((middle - began) * 1000)
        fts_ms.append((ended - middle) * 1000)
        pairs = [[(h.chunk_id, h.score) for h in side] for side in (hits, files, fts_hits,
                                                                    fts_files)]
        differ += not (same(pairs[0], pairs[2]) and same(pairs[1], pairs[3]))
    store.close()
    size = (args.data / KEYWORD_FILE).stat().st_size
    lines = [
        f"Data dir: {passages:,} passages (`{args.data.name}`); {len(texts)} real questions; "
        "both sides in one process, warm, one after the other per question (passages, pool "
        "100, and files, pool 1000: what keyword mode asks). Ours ranks the two on two threads.",
        "",
        "| side | p50 ms | p95 ms | answers unlike FTS5's |",
        "|---|---|---|---|",
        f"| FTS5 bm25() (the peer) | {percentile(fts_ms, .5):.1f} | {percentile(fts_ms, .95):.1f}"
        " | — |",
        f"| keyword index | {percentile(ours_ms, .5):.1f} | {percentile(ours_ms, .95):.1f} | "
        f"{differ} of {len(texts)} |",
        "",
        f"Ratio at p95: {percentile(fts_ms, .95) / percentile(ours_ms, .95):.0f}× faster. "
        f"File: {size / 2**20:,.0f} MB, {size / passages:,.0f} bytes a passage"
        + (f"; built in {build_s:.0f} s." if build_s is not None else "."),
    ]
    report = "\n".join(lines)
    print(report)
    if not args.no_write:
        write_section("keyword-index", "python bench/keyword_index.py", report)


if __name__ == "__main__":
    main()
