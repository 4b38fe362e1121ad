"""Modes: what Dowse creates is private, and what it finds loose in its own folders is tightened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.config import ensure_data_dir
from engine.private_files import open_private, private_dir, private_file, tighten_tree
from engine.store import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_created_files_and_folders_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        folder = private_dir(tmp_path / "a" / "b")
        os.close(open_private(folder / "x.log", os.O_WRONLY))
        existing = folder / "loose.txt"
        existing.write_text("kept")
        existing.chmod(0o666)
        private_file(existing)
        store = Store.open_in(private_dir(tmp_path / "data"))  # SQLite's WAL, -shm follow
        store.close()
    finally:
        os.umask(old)
    assert _mode(folder) == 0o700 and _mode(folder / "x.log") == 0o600
    assert _mode(existing) == 0o600 and existing.read_text() == "kept"
    assert {p.name: _mode(p) for p in (tmp_path / "data").iterdir()} == {
        p.name: 0o600 for p in (tmp_path / "data").iterdir()}


def test_a_data_dir_copied_with_loose_modes_is_tightened_at_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "cache").mkdir(parents=True)
    for name in ("dowse.sqlite3", "dowse.sqlite3-wal", "vectors.hnsw", "config.toml",
                 "cache/precision.json", "my-notes.txt"):
        (data / name).write_text("x")
        (data / name).chmod(0o644)
    for folder in (data, data / "cache"):
        folder.chmod(0o755)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not ours")
    elsewhere.chmod(0o644)
    (data / "link").symlink_to(elsewhere)
    ensure_data_dir(data)
    modes = {p.relative_to(data).as_posix(): _mode(p) for p in [data, *data.rglob("*")]
             if not p.is_symlink()}
    assert modes == {
        ".": 0o700, "cache": 0o700, "cache/precision.json": 0o600, "dowse.sqlite3": 0o600,
        "dowse.sqlite3-wal": 0o600, "vectors.hnsw": 0o600, "config.toml": 0o600,
        "my-notes.txt": 0o644,  # not a name Dowse writes: left alone
    }
    assert _mode(elsewhere) == 0o644  # a link is never followed
    assert tighten_tree(data) == 1  # what is left, when asked to: only my-notes.txt
