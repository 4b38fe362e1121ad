"""First launch of the installed app: an engine that cannot start is explained in the window."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.engine_link import EngineLink
from desktop.main_window import MainWindow
from engine import logs

pytestmark = pytest.mark.gui

WAIT_MS = 10000
# What an engine that cannot find its model prints before it exits.
CRASHING = [sys.executable, "-c",
            "import sys; print('dowse: no Hugging Face model folder at /gone'); sys.exit(2)"]


@pytest.fixture
def failed_window(data_dir: Path, qtbot: Any, tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    monkeypatch.setenv(logs.LOG_DIR_ENV, str(tmp_path / "logs"))
    link = EngineLink(data_dir, spawn=True, engine_command=CRASHING)
    window = MainWindow(link, data_dir)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(link.engine_failed, timeout=WAIT_MS):
        link.start()
    qtbot.waitUntil(window.banner.isVisible, timeout=WAIT_MS)
    yield window
    link.close()


def test_the_banner_says_why_the_engine_did_not_start(failed_window: MainWindow) -> None:
    assert "no Hugging Face model folder at /gone" in failed_window.banner.text()


def test_the_banner_says_where_the_log_is(failed_window: MainWindow, data_dir: Path) -> None:
    text = failed_window.banner.text()
    assert str(data_dir / "engine.log") in text
