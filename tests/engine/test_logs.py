"""The log files: private to their owner, rotated as such, and free of content by default."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import logs
from engine.config import Config


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "state" / "log"
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(folder))
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    umask = os.umask(0o022)  # what most accounts have; the files must be private anyway
    try:
        yield folder
    finally:
        os.umask(umask)
        for handler in root.handlers:
            if handler not in saved:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)


def _file_handler() -> logging.Handler:
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)
                  and h.baseFilename.endswith("engine.log")]
    return handler


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("verbose", [False, True])
def test_content_stays_out_of_the_log_unless_debug_logging_is_on(
    log_dir: Path, verbose: bool
) -> None:
    path = logs.configure_logging("serve", verbose=verbose)
    assert path == log_dir / "engine.log"
    log = logging.getLogger("engine.test")
    log.warning("indexed %d files", 3)
    log.warning("search %r", "my secret query", extra=logs.PRIVATE)
    _file_handler().flush()
    text = path.read_text()
    assert "indexed 3 files" in text and "secret" not in text


def test_debug_logging_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(logs.DEBUG_ENV, raising=False)
    assert not Config().log.debug and not logs.debug_logging(Config().log.debug)
    assert logs.debug_logging(configured=True)  # [log] debug = true in config.toml
    monkeypatch.setenv(logs.DEBUG_ENV, "1")
    assert logs.debug_logging()


def test_debug_logging_records_content(log_dir: Path) -> None:
    path = logs.configure_logging("serve", verbose=False, debug=True)
    assert path is not None
    logging.getLogger("engine.test").debug("search %r", "my query", extra=logs.PRIVATE)
    _file_handler().flush()
    assert "search 'my query'" in path.read_text()


def test_log_files_and_folders_are_private_through_rotations(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_dir.mkdir(parents=True, mode=0o755)
    (log_dir / "engine.log.1").write_text("from an older Dowse\n")
    os.chmod(log_dir / "engine.log.1", 0o644)
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    path = logs.configure_logging("serve", verbose=False)
    assert path is not None
    for n in range(200):
        logging.getLogger("engine.test").warning("line %d of the rotation test", n)
    files = sorted(log_dir.iterdir())
    assert [p.name for p in files] == ["engine.log", "engine.log.1", "engine.log.2",
                                       "engine.log.3"]
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(log_dir) == 0o700
