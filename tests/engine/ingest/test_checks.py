"""Cheap checks come before any read: type, size and holes from stat, then a bounded hash."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from engine.config import WalkConfig
from engine.ingest.checks import (
    FileChangedError,
    FileProblem,
    FileVanishedError,
    bounded_digest,
    check_stat,
    data_bytes,
    stat_file,
)
from engine.ingest.walk import FolderWalker, classify

MB = 1024 * 1024


def test_a_named_pipe_is_refused_from_stat_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    done = threading.Event()

    def check() -> None:
        with pytest.raises(FileProblem, match="not a regular file: a named pipe"):
            check_stat(fifo, stat_file(fifo), 50 * MB)
        done.set()

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(5)
    # Opening a FIFO for reading blocks until a writer comes: a check that opened it hangs.
    assert done.is_set()


def test_a_huge_file_is_refused_by_its_size_alone(tmp_path: Path) -> None:
    path = tmp_path / "disk.img"
    with open(path, "wb") as handle:
        handle.truncate(60 * 1024 * MB)
    started = time.monotonic()
    with pytest.raises(FileProblem, match=r"file too large: 61440\.0 MB > 50 MB limit"):
        check_stat(path, stat_file(path), 50 * MB)
    assert time.monotonic() - started < 1.0


def test_a_sparse_file_under_the_limit_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "prealloc.bin"
    with open(path, "wb") as handle:
        handle.write(b"x" * 4096)
        handle.truncate(40 * MB)
    st = stat_file(path)
    if st.st_blocks * 512 >= st.st_size:
        pytest.skip("this file system does not make sparse files")
    assert data_bytes(path, st) is not None
    with pytest.raises(FileProblem, match=r"sparse file: 40\.0 MB with only 0\.0 MB of data"):
        check_stat(path, st, 50 * MB)


def test_a_dense_file_is_not_called_sparse(tmp_path: Path) -> None:
    path = tmp_path / "dense.txt"
    path.write_bytes(os.urandom(3 * MB))
    assert data_bytes(path, stat_file(path)) is None
    check_stat(path, stat_file(path), 50 * MB)


def test_the_hash_notices_a_file_that_grew_or_was_replaced(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"a" * 1000)
    st = stat_file(path)
    assert len(bounded_digest(path, st)) == 32
    with open(path, "ab") as handle:
        handle.write(b"more")
    with pytest.raises(FileChangedError):
        bounded_digest(path, st)
    replacement = tmp_path / "new.txt"
    replacement.write_bytes(b"a" * 1000)
    os.replace(replacement, path)
    with pytest.raises(FileChangedError):
        bounded_digest(path, st)


def test_a_vanished_file_and_a_broken_link_are_told_apart(tmp_path: Path) -> None:
    with pytest.raises(FileVanishedError):
        stat_file(tmp_path / "gone.txt")
    os.symlink("nowhere", tmp_path / "dangling.txt")
    with pytest.raises(FileProblem, match="broken symbolic link"):
        stat_file(tmp_path / "dangling.txt")


def test_the_walker_lists_odd_entries_with_their_reason(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    os.symlink("nowhere", tmp_path / "dangling")
    (tmp_path / "plain.txt").write_text("hello")
    found = {f.path.name: f.problem for f in FolderWalker(tmp_path, WalkConfig()).walk()}
    assert found == {
        "pipe": "not a regular file: a named pipe (FIFO)",
        "a": "a symbolic link loop",
        "b": "a symbolic link loop",
        "dangling": "a broken symbolic link",
        "plain.txt": "",
    }
    assert classify(tmp_path / "pipe") == next(
        f for f in FolderWalker(tmp_path, WalkConfig()).walk() if f.path.name == "pipe"
    )
    assert classify(tmp_path / "missing") is None
