"""Shared fixtures: temporary data dirs and the real packaged tokenizer."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests run the same cases on every run, so CI never turns on a new random draw;
# `HYPOTHESIS_PROFILE=fuzz` draws fresh random cases on each run, for hunting bugs locally.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("fuzz", database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# GUI tests must not read or write the user's real QSettings (window geometry, search mode).
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="dowse-test-config-")
# `dowse search` stays in-process in tests, so no test leaves a background engine behind; the
# tests of that start (tests/e2e/test_engine_memory.py) turn it on and stop what they start.
os.environ.setdefault("DOWSE_SEARCH_STARTS_ENGINE", "0")
# Engines started by tests log here, not into the user's ~/.local/state/dowse/log.
os.environ["DOWSE_LOG_DIR"] = tempfile.mkdtemp(prefix="dowse-test-logs-")
for _made in (os.environ["XDG_CONFIG_HOME"], os.environ["DOWSE_LOG_DIR"]):
    atexit.register(shutil.rmtree, _made, ignore_errors=True)

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session")
def passage_tokenizer():  # type: ignore[no-untyped-def]
    from engine.embed.model_dir import resolve_model_dir
    from engine.ingest.chunk import PassageTokenizer

    return PassageTokenizer.from_model_dir(resolve_model_dir(""))


@pytest.fixture(autouse=True)
def _forget_gui_settings() -> Iterator[None]:
    """A test that changes the search mode or window size must not hand it to the next."""
    yield
    if "PySide6.QtCore" in sys.modules:
        from PySide6.QtCore import QSettings

        settings = QSettings("Dowse", "Dowse")
        settings.clear()
        settings.sync()


@pytest.fixture(autouse=True)
def _empty_the_clipboard() -> Iterator[None]:
    """Qt's offscreen platform crashes at exit (SIGSEGV) if the clipboard still holds a
    QMimeData set from Python (PySide6 6.11; not under xcb, so users never see it): a test
    that copies leaves the clipboard empty."""
    yield
    if "PySide6.QtGui" in sys.modules:
        from PySide6.QtGui import QGuiApplication

        if QGuiApplication.instance() is not None:
            QGuiApplication.clipboard().clear()
