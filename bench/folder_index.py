"""A real folder, end to end: Dowse `dowse index` against `recollindex` and ST encode().

Needs Debian's python3-doc (the folder) and recoll (the keyword peer); this script installs
nothing itself:

    apt-get install python3-doc recoll
    .venv/bin/python bench/folder_index.py [--folder DIR] [--st-sample 3000] [--no-write]

In one run, on the same folder (default /usr/share/doc/python3.11/html):
- Dowse through the real `dowse index` in a fresh data dir, under /usr/bin/time -v. A side
  thread reads the database (read-only, WAL) every half second and notes when every file that
  ends up indexed is findable by its words (has passages in FTS) and when every passage has its
  vector. Peak RSS twice: what /usr/bin/time -v reports (the largest resident set of any one
  process of the `dowse index` tree), and the peak of the whole tree's sum (psutil, 0.2 s).
- `recollindex` with a fresh configuration whose topdirs is the folder.
- sentence-transformers `encode()` (fp32, batch 32, the same packaged model) on the passages
  Dowse made: on a random sample of them (`--st-sample`, 0 for all), extrapolated to all by
  tokens, so the peer costs minutes rather than the half hour that all 100k passages take.
  The sample's tokens/s and the extrapolation are printed beside the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.benchmarks_md import write_section  # noqa: E402

DEFAULT_FOLDER = Path("/usr/share/doc/python3.11/html")
TIME = Path("/usr/bin/time")
INSTALL_HINT = "apt-get install python3-doc recoll"


def _peak_rss_mb(time_v: str) -> float:
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_v)
    return int(found.group(1)) / 1024 if found else float("nan")


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


class PhaseWatcher(threading.Thread):
    """Polls the data dir's database: when all files are findable by words, and by meaning."""

    def __init__(self, db: Path, t0: float) -> None:
        super().__init__(daemon=True)
        self.db, self.t0 = db, t0
        # (t, files with passages, passages, passages embedded)
        self.samples: list[tuple[float, int, int, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.5)

    def sample(self) -> None:
        if not self.db.exists():
            return
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=0.2)
            try:
                files, chunks, embedded = conn.execute(
                    "SELECT count(DISTINCT file_id), count(*), count(vector) FROM chunks"
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            return
        self.samples.append((time.perf_counter() - self.t0, files, chunks, embedded))

    def first_time(self, done: Any) -> float | None:
        return next((t for t, f, c, e in self.samples if done(f, c, e)), None)


class TreeMemory(threading.Thread):
    """The peak of the summed resident sets of a process and all its descendants (psutil),
    sampled every 0.2 s: the CLI, its extraction children and its OCR child together."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_mb = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.is_set():
            total = 0
            try:
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self.stop.wait(0.2)


def run_dowse(folder: Path, work: Path) -> dict[str, Any]:
    data = work / "dowse-data"
    env = {**os.environ, "DOWSE_DATA_DIR": str(data), "DOWSE_LOG_DIR": str(work / "log")}
    t0 = time.perf_counter()
    watcher = PhaseWatcher(data / "dowse.sqlite3", t0)
    watcher.start()
    popen = subprocess.Popen(
        [str(TIME), "-v", sys.executable, "-m", "engine.cli", "index", str(folder),
         "--data-dir", str(data)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    tree = TreeMemory(popen.pid)
    tree.start()
    stdout, stderr = popen.communicate()
    proc = subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)
    wall = time.perf_counter() - t0
    tree.stop.set()
    watcher.stop.set()
    watcher.join()
    watcher.sample()
    if proc.returncode != 0:
        raise SystemExit(f"dowse index failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    _, files, chunks, embedded = watcher.samples[-1]
    words = watcher.first_time(lambda f, c, e: f >= files)
    meaning = watcher.first_time(lambda f, c, e: f >= files and e >= chunks)
    data_bytes = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    return {
        "wall_s": wall, "words_s": words or wall, "meaning_s": meaning or wall,
        "peak_rss_mb": _peak_rss_mb(proc.stderr), "tree_rss_mb": tree.peak_mb,
        "files": files, "passages": chunks,
        "embedded": embedded, "data_bytes": data_bytes, "db": data / "dowse.sqlite3",
        "summary": proc.stdout.strip().splitlines()[:3],
    }


def run_recoll(folder: Path, work: Path) -> dict[str, Any]:
    conf = work / "recoll"
    conf.mkdir()
    (conf / "recoll.conf").write_text(f"topdirs = {folder}\n")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(TIME), "-v", "recollindex", "-c", str(conf), "-z"],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"recollindex failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    xapian = conf / "xapiandb"
    size = sum(p.stat().st_size for p in xapian.rglob("*") if p.is_file()) if xapian.exists() else 0
    return {"wall_s": wall, "peak_rss_mb": _peak_rss_mb(proc.stderr), "index_bytes": size}


def run_st(db: Path, sample: int, seed: int = 0) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    from engine.embed.model_dir import resolve_model_dir

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    texts = [t for (t,) in conn.execute("SELECT text FROM chunks ORDER BY id")]
    conn.close()
    whole = not sample or sample >= len(texts)
    chosen = texts if whole else random.Random(seed).sample(texts, sample)
    model = SentenceTransformer(str(resolve_model_dir(None)), device="cpu")
    tokenizer = model.tokenizer
    limit = model.max_seq_length

    def tokens(batch: list[str]) -> int:
        ids = tokenizer(batch, truncation=True, max_length=limit)["input_ids"]
        return sum(len(i) for i in ids)

    sample_tokens = tokens(chosen)
    all_tokens = sample_tokens if chosen is texts else sum(
        tokens(texts[i:i + 2048]) for i in range(0, len(texts), 2048)
    )
    torch.set_num_threads(os.cpu_count() or 1)
    t0 = time.perf_counter()
    model.encode(chosen, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    seconds = time.perf_counter() - t0
    rate = sample_tokens / seconds
    return {
        "sample": len(chosen), "passages": len(texts), "sample_s": seconds,
        "tokens_per_s": rate, "all_tokens": all_tokens, "all_s": all_tokens / rate,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--st-sample", type=int, default=3000, help="0: encode every passage")
    parser.add_argument("--no-write", action="store_true", help="print, don't touch BENCHMARKS.md")
    args = parser.parse_args()
    missing = [what for what, ok in (
        (str(args.folder), args.folder.is_dir()),
        ("recollindex", shutil.which("recollindex") is not None),
        (str(TIME), TIME.exists()),
    ) if not ok]
    if missing:
        print(f"skipped: {', '.join(missing)} missing; install with `{INSTALL_HINT}` "
              "(and Debian's `time` for /usr/bin/time)")
        return 0
    docs = _folder_bytes(args.folder)
    with tempfile.TemporaryDirectory(prefix="dowse-folder-bench-") as tmp:
        work = Path(tmp)
        recoll = run_recoll(args.folder, work)
        print(f"recollindex: {recoll['wall_s']:.1f} s, {recoll['peak_rss_mb']:.0f} MB", flush=True)
        dowse = run_dowse(args.folder, work)
        print(f"dowse: words {dowse['words_s']:.1f} s, meaning {dowse['meaning_s']:.1f} s, "
              f"{dowse['peak_rss_mb']:.0f} MB, {dowse['passages']} passages", flush=True)
        st = run_st(dowse["db"], args.st_sample)
        print(f"ST encode: {st['tokens_per_s']:.0f} tokens/s on {st['sample']} passages",
              flush=True)
    words_ratio = dowse["words_s"] / recoll["wall_s"]
    meaning_ratio = dowse["meaning_s"] / st["all_s"]
    d, r = dowse, recoll
    rows = [
        ("whole folder findable by words, s", f"{d['words_s']:.1f}",
         f"`recollindex` {r['wall_s']:.1f}", f"{words_ratio:.1f}×", "≤ 2×"),
        ("whole folder findable by meaning, s", f"{d['meaning_s']:.1f}",
         f"ST encode-only {st['all_s']:.0f} (extrapolated)", f"{meaning_ratio:.2f}×", "≤ 0.25×"),
        ("peak RSS, MB (largest one process)", f"{d['peak_rss_mb']:.0f}",
         f"`recollindex` {r['peak_rss_mb']:.0f}", "", "≤ 1,000"),
        ("peak RSS, MB (all processes of the run, summed)", f"{d['tree_rss_mb']:.0f}", "", "",
         "≤ 1,000"),
        ("index on disk, MB",
         f"{d['data_bytes'] / 1e6:.0f} ({d['data_bytes'] / docs:.1f}× the documents)",
         f"Xapian {r['index_bytes'] / 1e6:.0f}", "", ""),
    ]
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    body = (
        f"Folder: `{args.folder}`, {docs / 1e6:.1f} MB; Dowse indexed {d['files']:,} files "
        f"into {d['passages']:,} passages ({d['embedded']:,} embedded). Its summary: "
        f"`{' / '.join(d['summary'])}`.\n\n"
        "| measure | Dowse | peer | ratio (Dowse / peer) | target |\n|---|---|---|---|---|\n"
        f"{table}\n\n"
        f"The ST peer: sentence-transformers `encode()`, fp32, batch 32, on {st['sample']:,} "
        f"of Dowse's {st['passages']:,} passages chosen at random (seed 0): "
        f"{st['sample_s']:.1f} s, {st['tokens_per_s']:,.0f} tokens/s, extrapolated by tokens "
        f"to all {st['all_tokens']:,}. Peak RSS: /usr/bin/time -v (the largest one process "
        "of the `dowse index` tree), and psutil's sum over the whole tree sampled every 0.2 s."
        "\n"
    )
    print(body)
    if not args.no_write:
        write_section("folder-index", "python bench/folder_index.py", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
