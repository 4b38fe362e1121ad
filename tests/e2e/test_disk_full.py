"""A full disk while indexing: the work pauses, says why, damages nothing, and goes on by itself.

The data dir is a small tmpfs (mounting one needs root, as in CI; elsewhere the tests skip),
nearly filled by a filler file before indexing starts.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine.cli.main import main
from tests.helpers.data_faults import clean_passages, fill, integrity, passages, tmpfs
from tests.helpers.engine_process import paths_found, running_engine, wait_for, wait_idle

pytestmark = [pytest.mark.e2e]

FILES = 200
WORDS = (
    "river lantern copper orchard falcon granite harbor meadow violin glacier saffron "
    "compass thunder willow ember quartz canyon tundra beacon marble"
).split()


def write_tree(root: Path, files: int = FILES) -> Path:
    rng = random.Random(13)
    for i in range(files):
        folder = root / f"part{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        body = " ".join(rng.choice(WORDS) for _ in range(150))
        (folder / f"note{i:04d}.txt").write_text(f"code{i:04d}x {body}\n")
    return root


@pytest.mark.model
def test_the_engine_pauses_on_a_full_disk_and_resumes_once_there_is_space(
    tmp_path: Path,
) -> None:
    tree = write_tree(tmp_path / "tree")
    data = tmp_path / "data"
    # Unhindered, this index takes 6.5 MB: 1.5 MB of database, 4.2 MB of WAL, 0.7 MB of
    # vectors (twice that while they are saved). Leave 1.5 MB free.
    with tmpfs(data, 12 << 20):
        filler = fill(data / "filler.bin", leave_bytes=int(1.5 * (1 << 20)))
        with running_engine(data, log_path=tmp_path / "engine.log") as (_, client, _rt):
            client.pin(str(tree))
            paused = wait_for(
                lambda: (s := client.status())["problem"] and s, 180, "the disk-full pause"
            )
            assert paused["problem"]["kind"] == "disk_full"
            assert "full" in paused["problem"]["message"]
            assert paused["engine"]["activity"] == "waiting for disk space"
            assert paused["queue"] > 0 and paused["indexed"] < FILES
            # Nothing half-written, and what was indexed is searchable meanwhile.
            assert integrity(data / "dowse.sqlite3") == "ok"
            indexed = paused["indexed"]
            assert client.search("granite", mode="keyword")["results"] or indexed == 0
            # Still paused a while later: no busy retrying, no file recorded as failed.
            again = client.status()
            assert again["problem"] and again["failed"] == 0

            filler.unlink()
            done = wait_idle(client, timeout=240)
            assert done["problem"] is None
            assert done["indexed"] == FILES and done["failed"] == 0 and done["queue"] == 0
            for i in range(0, FILES, 37):
                assert paths_found(client, f"code{i:04d}x") == {
                    str(tree / f"part{i % 4}" / f"note{i:04d}.txt")
                }
        assert integrity(data / "dowse.sqlite3") == "ok"
        held = passages(data / "dowse.sqlite3")
    assert held == clean_passages(tree, tmp_path / "clean")


def test_dowse_index_stops_with_a_clear_message_and_a_rerun_finishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The in-process `dowse index` (no engine running): run in this process, the same code."""
    tree = write_tree(tmp_path / "tree")
    data = tmp_path / "data"
    argv = ["--data-dir", str(data), "index", "--keyword-only", str(tree)]
    # A keyword-only run takes up to 5 MB (1 MB of database, up to 4 MB of WAL); leave 1.5.
    with tmpfs(data, 12 << 20):
        filler = fill(data / "filler.bin", leave_bytes=int(1.5 * (1 << 20)))
        assert main(argv) == 1
        said = capsys.readouterr().err
        assert "is full" in said and "run the same command again" in said
        assert integrity(data / "dowse.sqlite3") == "ok"
        assert len({path for path, _ in passages(data / "dowse.sqlite3")}) < FILES

        filler.unlink()
        assert main(argv) == 0
        assert integrity(data / "dowse.sqlite3") == "ok"
        held = passages(data / "dowse.sqlite3")
    assert held == clean_passages(tree, tmp_path / "clean")
