"""What checking the index database for damage costs at start-up, by index size.

Builds synthetic indexes (ten passages a file, about 90 words each, a 384-d float16 vector per
passage, the real schema and FTS5 triggers) and times, on each:

- opening the store as every start does (header, schema, migrations: no check);
- `PRAGMA quick_check`, with the file in the page cache and with it evicted (fadvise);
- `PRAGMA integrity_check`, its thorough peer, in the same run;
- the first keyword query after opening;
- a real `dowse serve` on the evicted file: how long until it answers a keyword query, beside
  how long its quick_check (on the worker's thread) took, read from its log. The 10-passage
  index is the peer: the engine's start-up cost with nothing to check.

    .venv/bin/python bench/quick_check_cost.py [--sizes 10000 100000] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from bench.benchmarks_md import write_section  # noqa: E402
from engine.serve.client import EngineClient  # noqa: E402
from engine.store import ChunkRow, Store  # noqa: E402
from engine.store.keyword import keyword_search  # noqa: E402

PASSAGES_PER_FILE = 10
WORDS_PER_PASSAGE = 90
DIM = 384


def build(data_dir: Path, passages: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    vocabulary = [f"w{n}" for n in range(20_000)]
    store = Store.open_in(data_dir)
    folder = store.pin_folder("/bench")
    for f in range(passages // PASSAGES_PER_FILE):
        chunks = []
        for o in range(PASSAGES_PER_FILE):
            text = "lantern " + " ".join(rng.choices(vocabulary, k=WORDS_PER_PASSAGE - 1))
            chunks.append(ChunkRow(o, o * 700, o * 700 + len(text), None, None, text))
        blobs = vectors.standard_normal((PASSAGES_PER_FILE, DIM)).astype(np.float16)
        store.record_file(
            folder_id=folder, path=f"/bench/f{f:07d}.txt", size=7000, mtime=1.0,
            hash=f"{f:032x}", kind="text", state="indexed", chunks=chunks,
            extra_columns=[{"vector": b.tobytes()} for b in blobs],
        )
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed(run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - started


def measure(data_dir: Path) -> dict[str, float]:
    db = data_dir / "dowse.sqlite3"

    def pragma(name: str) -> None:
        conn = sqlite3.connect(db)
        try:
            assert conn.execute(f"PRAGMA {name}").fetchone()[0] == "ok"
        finally:
            conn.close()

    out: dict[str, float] = {"mb": db.stat().st_size / 1e6}
    evict(db)
    store: list[Store] = []
    out["open_cold"] = timed(lambda: store.append(Store.open_in(data_dir)))
    out["first_query_cold"] = timed(lambda: keyword_search(store[0].conn, "lantern w17", 10))
    store[0].close()
    evict(db)
    out["quick_check_cold"] = timed(lambda: pragma("quick_check"))
    out["quick_check_warm"] = timed(lambda: pragma("quick_check"))
    out["integrity_check_warm"] = timed(lambda: pragma("integrity_check"))
    return out


def engine_first_answer(data_dir: Path) -> tuple[float, float]:
    """(seconds from `dowse serve` to its first keyword answer, its quick_check's seconds)."""
    evict(data_dir / "dowse.sqlite3")
    runtime = Path(tempfile.mkdtemp(prefix="dw-"))
    env = {**os.environ, "DOWSE_DATA_DIR": str(data_dir), "DOWSE_RUNTIME_DIR": str(runtime)}
    log_path = data_dir.parent / "engine.log"
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        engine = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "-v"], env=env,
                                  stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        os.environ["DOWSE_RUNTIME_DIR"] = str(runtime)
        while True:
            try:
                with EngineClient.connect(data_dir, timeout=30, client="bench") as client:
                    assert client.search("lantern w17", mode="keyword", k=10)["results"]
                    answered = time.perf_counter() - started
                break
            except ConnectionError:
                time.sleep(0.02)
        deadline = time.monotonic() + 120
        while not (found := re.search(r"quick_check: ok in ([0-9.]+) s", log_path.read_text())):
            assert time.monotonic() < deadline, "no quick_check in the engine's log"
            time.sleep(0.1)
        return answered, float(found.group(1))
    finally:
        engine.send_signal(signal.SIGKILL)  # the vector index would take minutes to build
        engine.wait()
        shutil.rmtree(runtime, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 10_000, 100_000])
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="dowse-qc-") as tmp:
            started = time.perf_counter()
            build(Path(tmp), size)
            built = time.perf_counter() - started
            result = measure(Path(tmp))
            data = Path(tmp) / "data"
            data.mkdir()
            (Path(tmp) / "dowse.sqlite3").rename(data / "dowse.sqlite3")
            result["engine_answer"], result["engine_quick_check"] = engine_first_answer(data)
        print(f"{size} passages: built in {built:.0f} s; {result}", file=sys.stderr)
        rows.append(
            f"| {size:,} | {result['mb']:.0f} | {result['open_cold'] * 1e3:.0f} | "
            f"{result['first_query_cold'] * 1e3:.0f} | {result['quick_check_cold']:.2f} | "
            f"{result['quick_check_warm']:.2f} | {result['integrity_check_warm']:.2f} | "
            f"{result['engine_answer']:.2f} | {result['engine_quick_check']:.2f} |"
        )
    body = (
        "| passages | DB MB | open, cold (ms) | first keyword query, cold (ms) | "
        "quick_check cold (s) | quick_check warm (s) | integrity_check warm (s) | "
        "`dowse serve` to first keyword answer, cold (s) | its quick_check (s) |\n"
        "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "The engine runs quick_check on its worker thread before the first write, while "
        "searches are already answered: its first keyword answer on the 100,000-passage "
        "index comes as soon as on the 10-passage one, the peer row, though its check runs "
        "seconds longer. `dowse index` and `dowse doctor` run it in-process before they "
        "write or report, and pay its time."
    )
    print(body)
    if not args.no_write:
        write_section("Checking the database at start-up", "python bench/quick_check_cost.py",
                      body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
