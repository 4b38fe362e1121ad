"""Fixtures for the app's tests: an EngineLink connected to a fake engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMainWindow

from desktop.engine_link import EngineLink
from desktop.engine_status import EngineStatusLine
from tests.helpers.fake_engine import FakeEngine

WAIT_MS = 5000


@pytest.fixture
def link(data_dir: Path, qtbot: Any) -> Iterator[tuple[EngineLink, FakeEngine]]:
    """A link to a fake engine that reports itself idle, connected before the test runs."""
    fake = FakeEngine(data_dir).start()
    fake.reply_status({"engine": {"activity": "idle"}, "queue": 0, "folder_list": []})
    engine_link = EngineLink(data_dir, spawn=False, status_interval_ms=0)
    with qtbot.waitSignal(engine_link.connected, timeout=WAIT_MS):
        engine_link.start()
    yield engine_link, fake
    engine_link.close()
    fake.stop()


@pytest.fixture
def status_line(
    link: tuple[EngineLink, FakeEngine], qtbot: Any
) -> Iterator[tuple[EngineStatusLine, FakeEngine]]:
    """The engine's status-bar line in a shown window, over `link`'s fake engine."""
    engine_link, fake = link
    host = QMainWindow()
    qtbot.addWidget(host)
    line = EngineStatusLine(host.statusBar(), None, engine_link)
    host.show()
    yield line, fake  # the window lives as long as the test
