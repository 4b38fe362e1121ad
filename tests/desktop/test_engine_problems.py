"""What the app says when the engine cannot index: a full disk, a damaged index to rebuild."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMainWindow

from desktop.engine_link import EngineLink
from desktop.engine_status import EngineStatusLine
from desktop.main_window import MainWindow
from tests.helpers.fake_engine import FakeEngine

pytestmark = pytest.mark.gui

WAIT_MS = 5000
STATUS: dict[str, Any] = {
    "data_dir": "/d", "engine": {"state": "running", "pid": 1, "activity": "idle"},
    "model": "all-MiniLM-L6-v2", "device": "cpu", "precision": "bf16", "note": "CPU bf16",
    "folders": 1, "files": 5, "indexed": 5, "skipped": 0, "failed": 0, "passages": 21,
    "errors": 0, "queue": 0, "rate": 0.0, "eta_seconds": None, "current": "",
    "folder_list": [{"path": "/notes", "state": "active", "files": 5, "indexed": 5,
                     "failed": 0, "skipped": 0, "queued": 0, "watch": "live", "paused": False}],
    "problem": None,
}
DISK_FULL = {"kind": "disk_full", "since": 1.0,
             "message": "Indexing paused: the disk holding /d is full (0.0 MB free). …"}
DAMAGED = {"kind": "database_corrupt", "since": 1.0,
           "message": "The index database is damaged (Page 6: btreeInitPage() returns error "
                      "code 11). Rebuild the index: …"}


def with_problem(problem: dict[str, Any] | None, **engine: Any) -> dict[str, Any]:
    status = copy.deepcopy(STATUS)
    status["problem"] = problem
    status["engine"].update(engine)
    return status


def test_a_full_disk_is_said_and_clears_by_itself(qtbot: Any) -> None:
    host = QMainWindow()
    qtbot.addWidget(host)
    line = EngineStatusLine(host.statusBar())
    line.show_status(with_problem(DISK_FULL, activity="waiting for disk space"))
    assert "disk is full" in line.activity.text()
    assert "goes on by itself" in line.activity.text()
    assert line.activity.toolTip() == DISK_FULL["message"]
    assert line.rebuild_button.isHidden()  # nothing for the user to do but make room
    line.show_status(with_problem(None))
    assert line.activity.text() == "Up to date" and line.activity.toolTip() == ""


@pytest.fixture
def fake(data_dir: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(data_dir).start()
    engine.reply_status(with_problem(DAMAGED, activity="database damaged"))
    yield engine
    engine.stop()


def test_a_damaged_index_offers_a_rebuild_that_asks_the_engine(
    fake: FakeEngine, data_dir: Path, qtbot: Any
) -> None:
    link = EngineLink(data_dir, spawn=False, status_interval_ms=100)
    window = MainWindow(link, data_dir)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        link.start()
    button = window.engine_status.rebuild_button
    qtbot.waitUntil(button.isVisible, timeout=WAIT_MS)
    assert "index is damaged" in window.engine_label.text()
    assert "btreeInitPage" in window.engine_label.toolTip()
    assert not fake.requests_of("rebuild")

    button.click()
    qtbot.waitUntil(lambda: len(fake.requests_of("rebuild")) == 1, timeout=WAIT_MS)
    assert not button.isEnabled()  # asked once; later reports do not offer it again
    assert window.engine_label.text().startswith("Rebuilding")

    fake.reply_status(with_problem(None))  # the engine rebuilt it
    qtbot.waitUntil(button.isHidden, timeout=WAIT_MS)
    assert window.engine_label.text() == "Up to date"
    assert len(fake.requests_of("rebuild")) == 1
    link.close()
