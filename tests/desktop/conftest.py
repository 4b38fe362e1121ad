"""Fixtures for the app's tests: an EngineLink connected to a fake engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.engine_link import EngineLink
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
