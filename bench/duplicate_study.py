"""How alike two copies of one text are, against two different texts: the collapse thresholds.

Reads an index of Debian's python3-doc folder (`apt-get install python3-doc`, then
`dowse index /usr/share/doc/python3.11/html --data-dir DIR`), where every page comes twice:
`library/io.html` and its source `_sources/library/io.rst.txt`. For each passage of an HTML
page it finds the most similar passage (by stored vector) in the page's own source, its copy,
and in any other file, the nearest different text, and reports the cosine and word 3-gram
containment (engine/search/duplicates.py) of both, then how many copies and how many
different texts each pair of thresholds would join. Then, for the questions below, how many
of the first ten results are one document twice, with and without collapsing. Usage:

    .venv/bin/python bench/duplicate_study.py --data-dir DIR
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.search.duplicates import (  # noqa: E402
    NEAR_COSINE,
    NEAR_OVERLAP,
    NEAREST,
    containment,
    shingles,
)

ROOT = "/usr/share/doc/python3.11/html/"
QUESTIONS = (
    "read a file line by line", "how do I sort a list of dictionaries by a key",
    "run a shell command and capture its output", "parse command line arguments",
    "format a date as a string", "what is a generator", "copy a directory tree",
    "remove duplicates from a list", "read a csv file", "measure how long code takes to run",
    "start a thread", "make an HTTP request", "compare two floating point numbers",
    "merge two dictionaries", "write JSON to a file", "what does the with statement do",
    "recipe for baking a cake", "regular expression to match an email address",
    "convert bytes to a string", "find files matching a pattern",
    "how to write a class with properties", "catch an exception and print the traceback",
    "send an email with an attachment", "generate random numbers", "work with time zones",
    "iterate over two lists at once", "count how often each word occurs",
    "create a temporary file", "read environment variables", "log messages to a file",
    "compress a file with gzip", "unit testing with mocks", "connect to a sqlite database",
    "serialize objects with pickle", "asynchronous tasks with asyncio",
    "decimal arithmetic with exact rounding", "get the size of a file",
    "split a string on whitespace", "define an abstract base class", "profile a slow program",
)
COMBOS = ((0.6, 0.5), (0.7, 0.5), (0.75, 0.5), (0.9, 0.5), (0.7, 0.3), (0.7, 0.7))


def twin_of(path: str) -> str | None:
    if path.startswith(ROOT + "_sources/") and path.endswith(".rst.txt"):
        return ROOT + path[len(ROOT + "_sources/") : -len(".rst.txt")] + ".html"
    if path.startswith(ROOT) and path.endswith(".html") and "/_" not in path[len(ROOT) :]:
        return ROOT + "_sources/" + path[len(ROOT) : -len(".html")] + ".rst.txt"
    return None


def load(conn: sqlite3.Connection) -> tuple[list[int], list[str], list[str], np.ndarray]:
    rows = conn.execute(
        "SELECT c.id, f.path, c.text, c.vector FROM chunks c JOIN files f ON f.id = c.file_id"
        " WHERE c.vector IS NOT NULL ORDER BY c.id"
    ).fetchall()
    vectors = np.frombuffer(b"".join(bytes(r[3]) for r in rows), dtype=np.float16)
    matrix = vectors.reshape(len(rows), -1).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return [int(r[0]) for r in rows], [str(r[1]) for r in rows], [str(r[2]) for r in rows], matrix


def nearest_in(row: np.ndarray, passages: list[int], texts: list[str], i: int
               ) -> tuple[float, float]:
    """(best cosine, containment of passage i in the union of the NEAREST ones): what the
    searcher asks of a shown result's passages (engine/search/duplicates.py)."""
    top = sorted(passages, key=lambda j: -row[j])[:NEAREST]
    union = set().union(*(shingles(texts[j]) for j in top))
    return float(row[top[0]]), containment(shingles(texts[i]), union)


def pairs(paths: list[str], texts: list[str], matrix: np.ndarray, sample: int, twins: bool
          ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """For sampled passages: against the passage's other copy (twins: an HTML page's own
    source file) and against the nearest passages of any other file (a different text)."""
    by_path: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(paths):
        by_path[p].append(i)
    rng = np.random.default_rng(17)
    pool = [i for i, p in enumerate(paths) if not twins or (
        p.endswith(".html") and twin_of(p) in by_path)]
    chosen = sorted(rng.choice(pool, size=min(sample, len(pool)), replace=False))
    path_ids = np.array([hash(p) for p in paths])
    copies, others = [], []
    for start in range(0, len(chosen), 256):
        block = chosen[start : start + 256]
        sims = matrix[block] @ matrix.T
        for row, i in zip(sims, block, strict=True):
            twin = twin_of(paths[i]) if twins else None
            if twin is not None:
                copies.append(nearest_in(row, by_path[twin], texts, i))
            masked = np.where((path_ids == hash(paths[i])) | (path_ids == hash(twin)), -2.0, row)
            other = paths[int(np.argmax(masked))]
            others.append(nearest_in(masked, by_path[other], texts, i))
    return copies, others


def report(label: str, values: list[tuple[float, float]]) -> str:
    cos = sorted(v[0] for v in values)
    con = sorted(v[1] for v in values)
    pct = [int(q * (len(cos) - 1)) for q in (0.05, 0.25, 0.5, 0.75, 0.95, 0.999)]
    return (f"| {label} | {len(values)} | " + " ".join(f"{cos[i]:.2f}" for i in pct) + " | "
            + " ".join(f"{con[i]:.2f}" for i in pct) + " |")


def search_check(data_dir: Path) -> list[str]:
    """Top-ten results for QUESTIONS: one document shown twice (page and source), and the
    results joined that are not page and source, for each (cosine, containment) pair."""
    from functools import partial

    from engine.core import Engine
    from engine.search import searcher as searcher_module
    from engine.search.duplicates import CopyFinder

    engine = Engine(data_dir)
    lines = ["| cosine ≥ | containment ≥ | top-ten results whose other copy is also shown "
             "| joins that are not page and source |",
             "|---|---|---|---|"]
    joined_at: dict[tuple[float, float], list[str]] = {}
    try:
        for combo in ((None, None), *COMBOS):
            collapse = combo[0] is not None
            if collapse:
                searcher_module.CopyFinder = partial(  # type: ignore[misc]
                    CopyFinder, cosine=combo[0], overlap=combo[1])
            searcher = searcher_module.Searcher(engine.store, engine.semantic, 100,
                                                collapse=collapse)
            twice, joined = 0, []
            for question in QUESTIONS:
                results = searcher.search(question, "hybrid", 10).results
                names = {r.best.path for r in results}
                twice += sum(1 for r in results if twin_of(r.best.path) in names)
                joined += [f"{r.best.path} + {c.path}" for r in results for c in r.also_in
                           if twin_of(c.path) != r.best.path]
            label = ("no collapsing", "") if not collapse else (str(combo[0]), str(combo[1]))
            lines.append(f"| {label[0]} | {label[1]} | {twice} of {10 * len(QUESTIONS)} | "
                         f"{len(joined)} |")
            if collapse:
                joined_at[combo] = joined  # type: ignore[index]
    finally:
        searcher_module.CopyFinder = CopyFinder  # type: ignore[misc]
        engine.close()
    chosen = joined_at.get((NEAR_COSINE, NEAR_OVERLAP), [])
    lines += ["", f"The {len(set(chosen))} other joins at the shipped thresholds "
              f"({NEAR_COSINE}, {NEAR_OVERLAP}):", ""]
    lines += [f"- `{j.replace(ROOT, '')}`" for j in sorted(set(chosen))]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True, help="an index of python3-doc's html")
    parser.add_argument("--different", nargs="*", default=[],
                        help="data dirs of collections of distinct documents (quality --work)")
    parser.add_argument("--sample", type=int, default=4000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    conn = sqlite3.connect(f"file:{args.data_dir}/dowse.sqlite3?mode=ro", uri=True)
    _, paths, texts, matrix = load(conn)
    copies, others = pairs(paths, texts, matrix, args.sample, twins=True)
    lines = [
        "Cosine of the stored vectors and word 3-gram containment (engine/search/duplicates.py) "
        f"of sampled passages, against the {NEAREST} nearest passages of another file; "
        "percentiles 5, 25, 50, 75, 95 and 99.9.",
        "",
        "| passages | sampled | cosine | containment |",
        "|---|---|---|---|",
        report("python3-doc HTML page, against its own `.rst.txt` source (a copy)", copies),
        report("python3-doc HTML page, against the nearest other file", others),
    ]
    sets = [("copies", copies)]
    for extra in args.different:
        conn = sqlite3.connect(f"file:{extra}/dowse.sqlite3?mode=ro", uri=True)
        _, p, t, m = load(conn)
        _, different = pairs(p, t, m, min(args.sample, len(p)), twins=False)
        lines.append(report(f"{Path(extra).name}, against the nearest other document",
                            different))
        sets.append((Path(extra).name, different))
    lines += ["", "Joined by each pair of thresholds:", "",
              "| cosine ≥ | containment ≥ | " + " | ".join(
                  "python3-doc copies" if n == "copies" else f"{n}: different documents"
                  for n, _ in sets) + " |",
              "|---|---|" + "---|" * len(sets)]
    for c, o in COMBOS:
        cells = [sum(1 for a, b in v if a >= c and b >= o) / len(v) for _, v in sets]
        lines.append(f"| {c} | {o} | " + " | ".join(f"{x:.1%}" for x in cells) + " |")
    lines += ["", f"Hybrid top ten of {len(QUESTIONS)} questions over all of python3-doc "
              "(1,058 files, 86,000 passages):", ""]
    lines += search_check(Path(args.data_dir))
    print("\n".join(lines))
    if not args.no_write:
        from bench.benchmarks_md import write_section

        write_section("near-duplicates", "python bench/duplicate_study.py --data-dir DIR "
                      "--different WORK/scifact WORK/nfcorpus", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
