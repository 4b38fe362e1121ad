"""Where a data dir's bytes go, per passage and per file, for an old index and the current one.

Indexes one folder twice in the same run, keyword-only (no vectors: the bytes of the text
side alone), once with the code of an older commit (`--old-code`, a git worktree of it) and
once with the current code; and copies the old index, opens it with the current code (which
migrates it in place) and VACUUMs it, as a user's upgraded index would be. Each index is split
by SQLite's dbstat table into the passages' text, their vectors, the FTS5 indexes, FTS5's own
copies of the text, the b-tree indexes and the rest, beside the HNSW file and the WAL.

    git worktree add /tmp/oldfmt_wt 050489c
    .venv/bin/python bench/disk_usage.py --folder /usr/share/doc/python3.11/html \\
        --old-code /tmp/oldfmt_wt [--work /tmp/dowse-disk] [--no-write]
    .venv/bin/python bench/disk_usage.py --data-dir DIR ...   # measure data dirs as they are
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402
from engine.store import Store  # noqa: E402

DB = "dowse.sqlite3"
PARTS = (
    "passage text", "vectors (float16)", "passages: other columns and slack",
    "passage FTS5 index", "passage FTS5 copies of the text", "file FTS5 index (files_fts)",
    "b-tree indexes", "files, folders, queue, meta", "free pages", "WAL", "HNSW file",
)


def folder_bytes(folder: Path) -> int:
    return sum(
        (Path(root) / name).stat().st_size
        for root, _dirs, names in os.walk(folder)
        for name in names
        if (Path(root) / name).is_file()
    )


def measure(data_dir: Path) -> dict[str, int]:
    """Bytes by part, and the counts of passages and files."""
    conn = sqlite3.connect(f"file:{data_dir / DB}?mode=ro", uri=True)
    indexes = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    sizes = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    text, vectors, passages = conn.execute(
        "SELECT sum(length(CAST(text AS BLOB))), coalesce(sum(length(vector)), 0), count(*)"
        " FROM chunks"
    ).fetchone()
    files = int(conn.execute("SELECT count(*) FROM files").fetchone()[0])
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0]) * page_size
    conn.close()
    parts = dict.fromkeys(PARTS, 0)
    parts["passage text"], parts["vectors (float16)"] = int(text or 0), int(vectors)
    for name, size in sizes.items():
        if name == "chunks":
            parts["passages: other columns and slack"] += size - int(text or 0) - int(vectors)
        elif name == "chunks_fts_content":
            parts["passage FTS5 copies of the text"] += size
        elif name.startswith("chunks_fts"):
            parts["passage FTS5 index"] += size
        elif name.startswith("files_fts"):
            parts["file FTS5 index (files_fts)"] += size
        elif name in indexes or name.startswith("sqlite_autoindex"):
            parts["b-tree indexes"] += size
        else:
            parts["files, folders, queue, meta"] += size
    parts["free pages"] = free
    wal = data_dir / (DB + "-wal")
    parts["WAL"] = wal.stat().st_size if wal.exists() else 0
    hnsw = data_dir / "vectors.hnsw"
    parts["HNSW file"] = hnsw.stat().st_size if hnsw.exists() else 0
    parts["_passages"], parts["_files"] = int(passages), files
    parts["_total"] = sum(v for k, v in parts.items() if not k.startswith("_"))
    return parts


def index_with(code: Path, folder: Path, data_dir: Path) -> float:
    """`dowse index --keyword-only` with the code in `code`; returns the seconds it took."""
    shutil.rmtree(data_dir, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import sys; from engine.cli.main import main; sys.exit(main())",
         "index", "--keyword-only", "--data-dir", str(data_dir), str(folder)],
        cwd=code, check=True, stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(code)},
    )
    return time.perf_counter() - started


def migrate_copy(old: Path, target: Path) -> tuple[float, float]:
    """Copy an old data dir, open it with the current code (migrations in place), VACUUM it;
    returns (seconds to migrate, seconds to VACUUM)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(old, target)
    started = time.perf_counter()
    Store.open_in(target).close()
    migrated = time.perf_counter() - started
    conn = sqlite3.connect(target / DB)
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return migrated, time.perf_counter() - started - migrated


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def table(columns: dict[str, dict[str, int]], documents: int) -> str:
    labels = list(columns)
    lines = ["| part | " + " | ".join(f"{c}: MB" for c in labels) + " | "
             + " | ".join(f"{c}: B/passage" for c in labels) + " |",
             "|---|" + "---|" * (2 * len(labels))]
    for part in PARTS:
        row = [mb(columns[c][part]) for c in labels]
        row += [f"{columns[c][part] / max(1, columns[c]['_passages']):,.0f}" for c in labels]
        lines.append(f"| {part} | " + " | ".join(row) + " |")
    total = [mb(columns[c]["_total"]) for c in labels]
    total += [f"{columns[c]['_total'] / max(1, columns[c]['_passages']):,.0f}" for c in labels]
    lines.append("| **data dir** | " + " | ".join(f"**{t}**" for t in total) + " |")
    lines.append("")
    for c in labels:
        m = columns[c]
        beyond = (m["_total"] - m["passage text"]) / max(1, m["_passages"])
        ratio = f", {m['_total'] / documents:.2f}× the documents" if documents else ""
        lines.append(
            f"- {c}: {m['_passages']:,} passages, {m['_files']:,} files; "
            f"{m['_total'] / max(1, m['_files']) / 1e3:,.1f} KB per file, "
            f"{beyond:,.0f} B per passage beyond its text{ratio}."
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--old-code", type=Path, help="a worktree of the older commit")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dowse-disk"))
    parser.add_argument("--data-dir", type=Path, action="append", default=[])
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="keep indexes already in --work")
    parser.add_argument("--note", default="", help="a paragraph to add below the table")
    args = parser.parse_args()
    columns: dict[str, dict[str, int]] = {}
    notes = []
    documents = folder_bytes(args.folder) if args.folder else 0
    if args.folder and args.old_code:
        old_s = new_s = 0.0
        if not (args.reuse and (args.work / "old" / DB).exists()):
            old_s = index_with(args.old_code, args.folder, args.work / "old")
        if not (args.reuse and (args.work / "new" / DB).exists()):
            new_s = index_with(REPO, args.folder, args.work / "new")
        columns["old code"] = measure(args.work / "old")
        migrate_s, vacuum_s = migrate_copy(args.work / "old", args.work / "migrated")
        columns["old, migrated + VACUUM"] = measure(args.work / "migrated")
        columns["current code"] = measure(args.work / "new")
        notes.append(f"Indexing took {old_s:.0f} s (old code) and {new_s:.0f} s (current; 0: "
                     f"reused); migrating the old index in place {migrate_s:.1f} s, then VACUUM "
                     f"{vacuum_s:.1f} s.")
    for data_dir in args.data_dir:
        columns[data_dir.name] = measure(data_dir)
    if not columns:
        parser.error("give --folder and --old-code, or --data-dir")
    where = f"`{args.folder}` ({mb(documents)} MB of documents). " if args.folder else ""
    body = where + " ".join(notes) + "\n\n" + table(columns, documents)
    if args.note:
        body += "\n\n" + args.note
    print(body)
    if not args.no_write:
        shown = [a for a in sys.argv[1:] if a not in ("--note", args.note)]
        command = "python bench/disk_usage.py " + " ".join(shown)
        write_section("disk-usage", command, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
