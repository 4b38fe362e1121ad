"""The cost of purging: 1,000 files deleted from a 5,000-file index, with and without the purge.

The index is SciFact written as one file per document (the first --files of them), embedded
with the hashing encoder at the real model's 384 dimensions: what a purge costs depends on
the sizes of the FTS5 index, the SQLite file and the HNSW file, not on what made the
vectors, and the real model would take most of an hour on two cores to embed them. The
index is built once and copied, so both runs start from the same bytes; then --delete files
are removed from the folder and `Indexer.index_folders` brings the index in line, as `dowse
index` does.

- with purge: secure_delete on, deleted vectors scrubbed before the HNSW save, then FTS5
  'optimize' and a WAL checkpoint(TRUNCATE) (engine.ingest.forget.purge_traces);
- without: secure_delete off, no scrub, no optimize, no checkpoint (Dowse before the purge).

Each update runs on REPEATS copies of the same index and the median is reported. Bytes
written are this process's, from /proc/self/io: write_bytes (what reached the block
layer, page cache included) and wchar (what went through write calls). "Titles left" counts,
among 200 deleted documents, those whose title is still somewhere in the data dir's bytes.
A second table gives the cost of the purge at one save point after a single edited file,
at several index sizes (FTS5 'optimize' rewrites the whole keyword index each time).

    .venv/bin/python bench/purge.py [--dataset ../shared/data/scifact] [--files 5000]
        [--delete 1000] [--sizes 1000,2500,5000] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from engine.cli.evaluate import load_collection, safe_file_name  # noqa: E402
from engine.config import Config, ensure_data_dir  # noqa: E402
from engine.embed.hashing import HashingEncoder  # noqa: E402
from engine.embed.model_dir import resolve_model_dir  # noqa: E402
from engine.ingest.chunk import PassageTokenizer  # noqa: E402
from engine.ingest.forget import purge_traces  # noqa: E402
from engine.ingest.indexer import Indexer  # noqa: E402
from engine.search.semantic import SemanticIndex  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.vectors import index as vector_index  # noqa: E402

DIM = 384  # all-MiniLM-L6-v2's
TITLE_SAMPLE = 200
REPEATS = 3  # each update runs on this many copies of the index; the median is reported


def io_counters() -> dict[str, int]:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return {"write_bytes": int(fields["write_bytes"]), "wchar": int(fields["wchar"])}


def data_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.rglob("*") if p.is_file())


@contextmanager
def scrubbing(enabled: bool, seconds: list[float]) -> Iterator[None]:
    """Deleted vectors scrubbed before each HNSW save (timed into `seconds`), or, when not
    `enabled`, left in the file as Dowse did before."""
    real = vector_index.scrub_deleted

    def timed(index: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(index) if enabled else (index, 0)
        finally:
            seconds.append(time.perf_counter() - started)

    vector_index.scrub_deleted = timed  # type: ignore[assignment]
    try:
        yield
    finally:
        vector_index.scrub_deleted = real  # type: ignore[assignment]


class Opened:
    """One data dir opened as `dowse index` opens it, with the hashing encoder."""

    def __init__(self, data: Path, tokenizer: PassageTokenizer, purge: bool) -> None:
        self.data, self.purge = ensure_data_dir(data), purge
        self.store = Store.open_in(data)
        if not purge:
            self.store.conn.execute("PRAGMA secure_delete = OFF")
        self.semantic = SemanticIndex(self.store, HashingEncoder(DIM), data, Config().index)
        self.indexer = Indexer(self.store, Config(), tokenizer, self.semantic)

    def update(self, folder: Path) -> dict[str, float]:
        """index_folders (deletions, HNSW save), then the purge; seconds for each."""
        started = time.perf_counter()
        summary = self.indexer.index_folders([folder])
        indexed = time.perf_counter() - started
        purged = 0.0
        if self.purge:
            result = purge_traces(self.store, self.semantic, self.data, Config().index)
            purged = result.seconds if result is not None else 0.0
        return {"index_s": indexed, "purge_s": purged, "total_s": time.perf_counter() - started,
                "removed": summary.removed}

    def close(self) -> None:
        self.semantic.close()
        self.store.close()  # SQLite checkpoints the WAL into the file as it closes


def write_docs(docs: dict[str, tuple[str, str]], folder: Path) -> dict[Path, str]:
    folder.mkdir(parents=True)
    titles = {}
    for doc_id, (title, text) in docs.items():
        path = folder / safe_file_name(doc_id)
        path.write_text(f"{title}\n\n{text}\n", encoding="utf-8")
        titles[path] = title
    return titles


def titles_left(data: Path, titles: list[str]) -> int:
    blobs = [p.read_bytes() for p in data.rglob("*") if p.is_file()]
    return sum(any(t.encode() in b for b in blobs) for t in titles)


def deletion_run(tmp: Path, docs: dict[str, tuple[str, str]], delete: int,
                 tokenizer: PassageTokenizer) -> dict[str, Any]:
    folder = tmp / "docs"
    titles = write_docs(docs, folder)
    base = tmp / "base"
    started = time.perf_counter()
    built = Opened(base, tokenizer, purge=True)
    built.indexer.index_folders([folder])
    built.close()
    build_s = time.perf_counter() - started
    rng = random.Random(14)
    doomed = rng.sample(sorted(titles), delete)
    sample = [titles[p] for p in doomed[:TITLE_SAMPLE] if len(titles[p]) >= 40]
    for path in doomed:
        path.unlink()
    rows: dict[str, Any] = {"files": len(docs), "deleted": delete, "build_s": build_s,
                            "index_mb": data_bytes(base) / 1e6}
    for name, purge in (("without purge", False), ("with purge", True)):
        runs = [measured(base, tmp / f"{name.replace(' ', '-')}-{n}", folder, tokenizer, purge)
                for n in range(REPEATS)]
        rows[name] = sorted(runs, key=lambda run: run["total_s"])[REPEATS // 2]  # the median
        rows[name]["titles_left"] = titles_left(rows[name].pop("data"), sample)
        rows[name]["titles_checked"] = len(sample)
    return rows


def measured(base: Path, data: Path, folder: Path, tokenizer: PassageTokenizer,
             purge: bool) -> dict[str, Any]:
    """A copy of `base` brought in line with `folder`, with or without the purge."""
    shutil.copytree(base, data)
    opened = Opened(data, tokenizer, purge)
    scrub_seconds: list[float] = []
    before = io_counters()
    with scrubbing(purge, scrub_seconds):
        timing = opened.update(folder)
        opened.close()
    after = io_counters()
    return {
        **timing,
        "scrub_s": sum(scrub_seconds),
        "write_mb": (after["write_bytes"] - before["write_bytes"]) / 1e6,
        "wchar_mb": (after["wchar"] - before["wchar"]) / 1e6,
        "data_mb": data_bytes(data) / 1e6,
        "data": data,
    }


def edit_run(tmp: Path, docs: dict[str, tuple[str, str]], tokenizer: PassageTokenizer
             ) -> dict[str, Any]:
    """One file changed on an index of len(docs) files, then the next save point."""
    folder = tmp / "docs"
    titles = write_docs(docs, folder)
    built = Opened(tmp / "base", tokenizer, purge=True)
    built.indexer.index_folders([folder])
    built.close()
    sorted(titles)[0].write_text("An edit replaced this document.\n", encoding="utf-8")
    row: dict[str, Any] = {"files": len(docs), "index_mb": data_bytes(tmp / "base") / 1e6}
    for name, purge in (("without purge", False), ("with purge", True)):
        runs = [measured(tmp / "base", tmp / f"{name.replace(' ', '-')}-{n}", folder,
                         tokenizer, purge) for n in range(REPEATS)]
        row[name] = sorted(runs, key=lambda run: run["total_s"])[REPEATS // 2]
        del row[name]["data"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--delete", type=int, default=1000)
    parser.add_argument("--sizes", default="1000,2500,5000")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    dataset = Path(args.dataset)
    if not (dataset / "corpus.jsonl").is_file():
        print(f"skipped: {dataset} not found")
        return 0
    corpus = load_collection(dataset).corpus
    ids = sorted(corpus)
    tokenizer = PassageTokenizer.from_model_dir(resolve_model_dir(""), Config().chunk.max_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        result = deletion_run(Path(tmp), {i: corpus[i] for i in ids[: args.files]},
                              args.delete, tokenizer)
    edits = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        with tempfile.TemporaryDirectory() as tmp:
            edits.append(edit_run(Path(tmp), {i: corpus[i] for i in ids[:size]}, tokenizer))
    result["one_edit"] = edits
    print(json.dumps(result, indent=2))
    if not args.no_write:
        write_section("purge", "python bench/purge.py", render(result))
    return 0


def render(r: dict[str, Any]) -> str:
    lines = [
        f"{r['deleted']:,} of {r['files']:,} SciFact files deleted, then `index_folders` as "
        f"`dowse index` runs it. Index built in {r['build_s']:.0f} s: {r['index_mb']:.1f} MB "
        "of SQLite and HNSW (hashing encoder at 384 dimensions).",
        "",
        "| run | seconds | of which scrub | of which purge | MB written (block) "
        "| MB written (calls) | deleted titles left |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("without purge", "with purge"):
        x = r[name]
        lines.append(
            f"| {name} | {x['total_s']:.2f} | {x['scrub_s']:.2f} | {x['purge_s']:.2f} "
            f"| {x['write_mb']:.1f} | {x['wchar_mb']:.1f} "
            f"| {x['titles_left']} of {x['titles_checked']} |"
        )
    off, on = r["without purge"], r["with purge"]
    lines += [
        "",
        f"With the purge the update takes {on['total_s'] / off['total_s']:.1f}× the time and "
        f"writes {on['write_mb'] / max(off['write_mb'], 1e-9):.1f}× the bytes. Seconds are "
        f"the whole update (walking the folder, the deletions, the HNSW save), the median of "
        f"{REPEATS} runs on copies of the same index, on two CPU cores shared with other "
        "work. \"Deleted titles left\": of a sample of the deleted documents, those whose "
        "title is still somewhere in the data dir's bytes. Without the purge, SQLite here "
        "runs with secure_delete off, its default outside Debian's build.",
        "",
        "One edited file, then the next save point (HNSW save, and with the purge FTS5 "
        "'optimize' and a WAL checkpoint), by index size:",
        "",
        "| files | index MB | seconds without | seconds with | MB written without "
        "| MB written with |",
        "|---|---|---|---|---|---|",
    ]
    for e in r["one_edit"]:
        off, on = e["without purge"], e["with purge"]
        lines.append(
            f"| {e['files']:,} | {e['index_mb']:.1f} | {off['total_s']:.2f} "
            f"| {on['total_s']:.2f} | {off['write_mb']:.1f} | {on['write_mb']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
