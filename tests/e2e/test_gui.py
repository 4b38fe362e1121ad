"""The desktop app over a real engine: pin a folder, ask in plain words, see the right file lit."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from desktop.engine_link import EngineLink
from desktop.main_window import MainWindow
from desktop.results_model import ResultRole
from engine.serve.client import EngineClient
from engine.serve.runtime import engine_running
from tests.helpers.documents import write_docx, write_md, write_txt

pytestmark = [pytest.mark.gui, pytest.mark.e2e, pytest.mark.model]


def test_pin_type_a_question_and_see_the_answer_highlighted(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOWSE_RUNTIME_DIR", tempfile.mkdtemp(prefix="dw-"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "notes"
    folder.mkdir()
    write_txt(folder / "terns.txt", "Arctic terns migrate from pole to pole every single year.")
    write_md(folder / "bread.md", "Knead the sourdough for ten minutes, then let it rise.")
    write_docx(folder / "budget.docx", "The marketing budget for next quarter is frozen.")
    data = tmp_path / "data"

    link = EngineLink(data)
    window = MainWindow(link, data)
    qtbot.addWidget(window)
    window.show()
    window.mode_box.setCurrentIndex(window.mode_box.findData("hybrid"))
    try:
        with qtbot.waitSignal(link.connected, timeout=60_000):
            link.start()
        _pin_and_ask(qtbot, window, folder)
        with qtbot.waitSignal(link.engine_stopped, timeout=60_000):
            link.shutdown_engine()
        qtbot.waitUntil(lambda: not engine_running(data), timeout=60_000)
    finally:
        link.close()
        if engine_running(data):  # a failed test must not leave its engine behind
            EngineClient.connect(data).shutdown()


def _pin_and_ask(qtbot: Any, window: MainWindow, folder: Path) -> None:
    window.folders.pin_requested.emit(str(folder))

    def indexed() -> bool:
        rows = window._folders  # what the folders panel shows
        return bool(rows) and rows[0]["indexed"] == 3 and rows[0]["queued"] == 0

    qtbot.waitUntil(indexed, timeout=120_000)
    qtbot.keyClicks(window.search_box, "which birds travel between the poles")

    def answered() -> bool:
        return window.model.rowCount() > 0 and window.model.query == window.search_box.text()

    qtbot.waitUntil(answered, timeout=30_000)
    best = window.model.index(0, 0)
    assert best.data(ResultRole.Path) == str(folder / "terns.txt")
    qtbot.waitUntil(lambda: bool(window.model.index(0, 0).data(ResultRole.Explained)),
                    timeout=30_000)
    spans = window.model.index(0, 0).data(ResultRole.PassageSpans)
    text = window.model.index(0, 0).data(ResultRole.Text)
    lit = {text[s:e].lower() for s, e, _ in spans}
    assert lit & {"terns", "migrate", "pole", "arctic"}, lit
    assert window.delegate.highlight_ranges(window.model.index(0, 0))
    assert window.query_words.isVisibleTo(window)
