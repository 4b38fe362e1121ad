"""A burst of file events in a watched folder (a `git checkout`, an unpacked archive) converges
to the very index a clean scan of the final tree gives, with the engine's memory bounded.

The storm: files created across many folders at once, then a fifth of them rewritten, a
seventh deleted, some renamed, short-lived temp files, a folder renamed and one deleted, all
without a pause. The default run has 1,000 files; the slow one 10,000 (`make test-torture`).
The engine's peak RSS (VmHWM) is read from /proc and printed; its growth over the storm must
stay under GROWTH_LIMIT_MB.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers.data_faults import clean_passages, passages
from tests.helpers.engine_process import running_engine, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.model]

# The engine holds the model (about 0.5 GB) before the storm; what the storm may add on top,
# for queues, batches and the vectors of 10,000 more passages.
GROWTH_LIMIT_MB = 300


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def storm(root: Path, files: int, rng: random.Random) -> None:
    paths = []
    for i in range(files):
        folder = root / f"dir{i // 100:03d}" / f"sub{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file{i:05d}.txt"
        path.write_text(f"storm{i:05d}x {rng.choice(['alpha', 'beta', 'gamma'])} first draft\n")
        paths.append(path)
    for i, path in enumerate(paths):
        if i % 5 == 0:
            path.write_text(path.read_text() + f"rewritten{i:05d}y second draft\n")
        if i % 7 == 0:
            path.unlink()
        elif i % 11 == 0:
            path.rename(path.with_name(f"renamed-{path.name}"))
        if i % 10 == 0:  # an editor's temp file, gone at once
            temp = path.with_name(f".~tmp{i}")
            temp.write_text("scratch")
            temp.unlink()
    (root / "dir000").rename(root / "dir000-moved")
    if files > 200:
        shutil.rmtree(root / "dir001")


def converges(tmp_path: Path, files: int, timeout: float) -> None:
    rng = random.Random(files)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "before.txt").write_text("A note from before the storm.\n")
    data = tmp_path / "data"
    with running_engine(data, log_path=tmp_path / "engine.log") as (process, client, _rt):
        client.pin(str(tree))
        wait_for(lambda: (s := client.status())["engine"]["activity"] == "idle"
                 and s["indexed"] == 1, 120, "the first file to be indexed")
        before = memory_kb(process.pid)
        started = time.monotonic()
        storm(tree, files, rng)
        expected = sum(1 for p in tree.rglob("*") if p.is_file())
        peak = [before["VmHWM"]]

        def settled() -> bool:
            peak.append(memory_kb(process.pid)["VmHWM"])
            status = client.status()
            return (status["engine"]["activity"] == "idle" and status["queue"] == 0
                    and status["indexed"] == expected)

        wait_for(settled, timeout, f"the index to settle on {expected} files")
        seconds = time.monotonic() - started
        after = memory_kb(process.pid)
    growth_mb = (max(peak) - before["VmHWM"]) / 1024
    print(f"\nstorm of {files} files: settled in {seconds:.1f} s; engine VmHWM "
          f"{before['VmHWM'] / 1024:.0f} MB before, {max(peak) / 1024:.0f} MB after "
          f"(+{growth_mb:.0f} MB); VmRSS now {after['VmRSS'] / 1024:.0f} MB")
    assert passages(data / "dowse.sqlite3") == clean_passages(tree, tmp_path / "clean")
    assert growth_mb < GROWTH_LIMIT_MB


def test_a_storm_of_1000_files_converges_to_a_clean_scan(tmp_path: Path) -> None:
    converges(tmp_path, 1000, timeout=300)


@pytest.mark.slow
def test_a_storm_of_10000_files_converges_to_a_clean_scan(tmp_path: Path) -> None:
    converges(tmp_path, 10_000, timeout=1800)
