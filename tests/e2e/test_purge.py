"""What is deleted is gone: unique words and their passages' vectors, removed in every way a
file leaves the index, are nowhere in the data dir, state dir, cache or runtime dir after.

Each way: the file deleted, the words edited out, a rename followed by an edit, the folder
unpinned, and `dowse forget`. The scan reads every byte of every file under those folders,
the WAL and -shm included, for each word (and its tail, since FTS5 stores a term after the
prefix it shares with the term before it), each removed passage's stored vector (as SQLite
stores it) and float32 vector (as the HNSW file stores it). Once through the in-process CLI,
once through `dowse serve`, whose own save points do the purging. Both runs also check the
modes of everything there, after a log rotation.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.search.semantic import VECTORS_FILE_NAME
from engine.store.keyword_index import KEYWORD_FILE
from tests.helpers.engine_process import (
    engine_env,
    paths_found,
    running_engine,
    wait_for,
    wait_idle,
)
from tests.helpers.traces import hnsw_vectors, traces_in

pytestmark = [pytest.mark.e2e, pytest.mark.model]

# Words the porter stemmer leaves whole, so the FTS5 index holds them as they are.
WORDS = {
    "deleted": "zorvexplumb",
    "edited": "quillabrox",
    "renamed": "fendrashimk",
    "unpinned": "glossomitrax",
    "forgotten": "brakkenvoult",
}
KEPT = "lighthousekeeper"  # in a file that stays: it must still be found after
CONVERGE = 30.0


@dataclass
class Layout:
    root: Path
    data: Path
    state: Path  # $DOWSE_LOG_DIR
    runtime: Path  # $DOWSE_RUNTIME_DIR
    needles: list[bytes] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)  # where the kept word is found at the end

    @property
    def docs(self) -> Path:
        return self.root / "docs"

    @property
    def folders(self) -> list[Path]:
        return [self.docs, self.root / "unpin-me", self.root / "forget-me"]

    @property
    def scanned(self) -> list[Path]:
        return [self.data, self.state, self.runtime]  # the cache is the data dir's cache/


def _text(topic: str, word: str = "") -> str:
    return (f"Notes on {topic}. The committee met on Tuesday to talk about {topic} "
            f"{word} and the budget for next year, then went home.\n")


def _layout(tmp: Path, runtime: Path, old_log: bool) -> Layout:
    layout = Layout(tmp / "files", tmp / "data", tmp / "state", runtime)
    for folder in layout.folders:
        folder.mkdir(parents=True)
    (layout.docs / "deleted.txt").write_text(_text("the harbour wall", WORDS["deleted"]))
    (layout.docs / "edited.txt").write_text(_text("the school roof", WORDS["edited"]))
    (layout.docs / "renamed.txt").write_text(_text("the old bridge", WORDS["renamed"]))
    (layout.docs / "kept.txt").write_text(_text("the lighthouse", KEPT))
    (layout.folders[1] / "notes.txt").write_text(_text("the orchard", WORDS["unpinned"]))
    (layout.folders[2] / "notes.txt").write_text(_text("the museum", WORDS["forgotten"]))
    # A data dir and state dir with loose modes, as after a copy from a backup, and a log
    # big enough that the engine's first line rotates it.
    layout.data.mkdir(mode=0o755)
    (layout.data / "cache").mkdir(mode=0o755)
    # The keyword index too (engine/store/keyword_index.py), which a big index keeps.
    (layout.data / "config.toml").write_text(
        "[watch]\ndebounce_seconds = 0.2\n[search]\nkeyword_index_min = 1\n")
    os.chmod(layout.data / "config.toml", 0o644)
    layout.state.mkdir(mode=0o700)
    if old_log:
        os.chmod(layout.state, 0o755)
        (layout.state / "engine.log").write_text("old line\n" * 120_000)
        os.chmod(layout.state / "engine.log", 0o644)
    return layout


def _removed_passages(layout: Layout) -> list[bytes]:
    """The words, and the stored (int8) and float32 vectors of every passage that holds one."""
    conn = sqlite3.connect(f"{(layout.data / 'dowse.sqlite3').as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, text, vector FROM chunks").fetchall()
    finally:
        conn.close()  # an open reader would keep the WAL from being truncated
    slots = hnsw_vectors(layout.data / VECTORS_FILE_NAME)
    needles: list[bytes] = []
    for word in WORDS.values():
        needles += [word.encode(), word[2:].encode()]
        holding = [(int(i), bytes(v)) for i, text, v in rows if word in text]
        assert holding, f"no passage holds {word}"
        for chunk_id, stored in holding:
            assert len(stored) == 4 + 384  # a float32 scale, then int8 (store/vector_blobs.py)
            float32, deleted = slots[chunk_id]
            assert len(float32) == 384 * 4 and not deleted
            needles += [stored, float32]
    return needles


def _change_docs(layout: Layout) -> None:
    (layout.docs / "deleted.txt").unlink()
    edited = layout.docs / "edited.txt"
    edited.write_text(edited.read_text().replace(WORDS["edited"], "and the gutters"))


def _edit_renamed(path: Path) -> None:
    path.write_text(path.read_text().replace(WORDS["renamed"], "and its railings"))


def _modes(layout: Layout) -> dict[str, str]:
    """Every folder and file there whose mode is not 0700 or 0600."""
    wrong = {}
    for root in layout.scanned:
        for path in [root, *root.rglob("*")]:
            info = path.lstat()
            want = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
            if stat.S_IMODE(info.st_mode) != want:
                wrong[str(path)] = oct(stat.S_IMODE(info.st_mode))
    return wrong


# -- the in-process CLI --------------------------------------------------------------------


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    tmp = tmp_path_factory.mktemp("purge-cli")
    layout = _layout(tmp, tmp / "run", old_log=False)
    layout.runtime.mkdir(mode=0o700)
    saved = {k: os.environ.get(k) for k in ("DOWSE_LOG_DIR", "DOWSE_RUNTIME_DIR")}
    os.environ.update(DOWSE_LOG_DIR=str(layout.state), DOWSE_RUNTIME_DIR=str(layout.runtime))
    umask = os.umask(0o022)  # a usual umask: main() must make it private by itself
    try:
        dowse = ["--data-dir", str(layout.data)]
        assert main(["index", *map(str, layout.folders), *dowse]) == 0
        layout.needles = _removed_passages(layout)
        assert len(traces_in(layout.scanned, layout.needles)) >= 2  # the scan does find them
        assert WORDS["deleted"].encode() in (layout.data / KEYWORD_FILE).read_bytes()

        _change_docs(layout)
        renamed = layout.docs / "renamed-later.txt"
        (layout.docs / "renamed.txt").rename(renamed)
        _edit_renamed(renamed)
        assert main(["index", str(layout.docs), *dowse]) == 0

        from engine.core import Engine  # unpinning has no command of its own: the store's

        engine = Engine(layout.data)
        assert engine.store.unpin_folder(str(layout.folders[1])) is not None
        engine.close()  # the purge runs at close

        assert main(["forget", str(layout.folders[2]), *dowse]) == 0
        assert main(["forget", str(layout.folders[2]), *dowse]) == 1  # not pinned any more
        yield layout
    finally:
        os.umask(umask)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_in_process_removals_leave_no_trace(in_process: Layout) -> None:
    assert traces_in(in_process.scanned, in_process.needles) == {}
    from engine.core import Engine

    engine = Engine(in_process.data)
    try:
        found = [hit.best.path for hit in engine.search(KEPT, mode="keyword").results]
        assert found == [str(in_process.docs / "kept.txt")]
        assert not engine.search(WORDS["deleted"], mode="keyword").results
        assert [p for _, p, _ in engine.store.folders()] == [str(in_process.docs)]
    finally:
        engine.close()


def test_in_process_modes_are_private(in_process: Layout) -> None:
    assert _modes(in_process) == {}


# -- through `dowse serve` -----------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    tmp = tmp_path_factory.mktemp("purge-serve")
    saved = os.environ.get("DOWSE_LOG_DIR")
    layout = _layout(tmp, Path("/nonexistent"), old_log=True)
    os.environ["DOWSE_LOG_DIR"] = str(layout.state)  # the engine's environment copies ours
    try:
        with running_engine(layout.data) as (_process, client, runtime):
            layout.runtime = runtime
            for folder in layout.folders:
                client.pin(str(folder))
            wait_idle(client)
            for word in WORDS.values():  # queries, which no log may keep either
                assert paths_found(client, word), word
            layout.needles = _removed_passages(layout)
            assert len(traces_in(layout.scanned, layout.needles)) >= 2

            _change_docs(layout)
            renamed = layout.docs / "renamed-later.txt"
            (layout.docs / "renamed.txt").rename(renamed)
            wait_for(lambda: paths_found(client, WORDS["renamed"]) == {str(renamed)},
                     CONVERGE, "the renamed file under its new path")
            _edit_renamed(renamed)
            for key in ("deleted", "edited", "renamed"):
                wait_for(lambda w=WORDS[key]: not paths_found(client, w), CONVERGE, key)
            wait_idle(client)  # the worker purges at its save point, before it says idle

            assert "passages removed" in client.unpin(str(layout.folders[1]))
            cli = subprocess.run(
                [sys.executable, "-m", "engine.cli", "forget", str(layout.folders[2])],
                env=engine_env(layout.data, runtime), capture_output=True, text=True,
                timeout=120, check=False,
            )
            assert cli.returncode == 0, cli.stderr
            assert "1 file(s) and 1 passage(s)" in cli.stdout
            layout.kept = paths_found(client, KEPT)
            yield layout  # scanned while the engine runs: its WAL and -shm are there
    finally:
        if saved is None:
            os.environ.pop("DOWSE_LOG_DIR", None)
        else:
            os.environ["DOWSE_LOG_DIR"] = saved


def test_served_removals_leave_no_trace(served: Layout) -> None:
    assert (served.data / "dowse.sqlite3-wal").exists()
    assert traces_in(served.scanned, served.needles) == {}
    assert served.kept == {str(served.docs / "kept.txt")}


def test_served_modes_are_private_after_a_rotation(served: Layout) -> None:
    assert (served.state / "engine.log.1").exists()  # the big old log was rotated
    assert _modes(served) == {}
