"""The main window against a fake engine: what typing sends, what answers show, what keys do."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from desktop.engine_link import EngineLink
from desktop.main_window import MainWindow
from desktop.results_model import ResultRole
from engine.serve import protocol
from tests.helpers.fake_engine import FakeEngine

pytestmark = pytest.mark.gui

WAIT_MS = 5000
ANSWER = json.loads((Path(__file__).parent / "data" / "search_explain.json").read_text())
FOLDER = {"path": "/notes", "state": "active", "files": 5, "indexed": 4, "failed": 1,
          "skipped": 0, "queued": 0, "watch": "live", "paused": False}
STATUS = {
    "data_dir": "/d", "engine": {"state": "running", "pid": 1, "activity": "idle"},
    "model": "all-MiniLM-L6-v2", "device": "cpu", "precision": "bf16", "note": "CPU bf16",
    "folders": 1, "files": 5, "indexed": 4, "skipped": 0, "failed": 1, "passages": 21,
    "errors": 1, "queue": 0, "rate": 0.0, "eta_seconds": None, "current": "",
    "folder_list": [FOLDER],
}


def answer_for(request: protocol.Search) -> dict[str, Any]:
    """The recorded answer, re-labelled with the query asked; explanations only if asked."""
    response = copy.deepcopy(ANSWER)
    response["query"] = request.query
    if not request.explain:
        for item in response["results"]:
            item.pop("explanation", None)
    return response


@pytest.fixture
def fake(data_dir: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(data_dir).start()
    engine.reply_status(STATUS)
    engine.reply_search(answer_for)
    yield engine
    engine.stop()


@pytest.fixture
def window(fake: FakeEngine, data_dir: Path, qtbot: Any) -> Iterator[MainWindow]:
    link = EngineLink(data_dir, spawn=False, status_interval_ms=200)
    main = MainWindow(link, data_dir)
    qtbot.addWidget(main)
    main.show()
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        link.start()
    qtbot.waitUntil(lambda: bool(main._folders), timeout=WAIT_MS)
    yield main
    link.close()


def test_typing_sends_one_search_then_one_for_explanations(
    window: MainWindow, fake: FakeEngine, qtbot: Any
) -> None:
    qtbot.keyClicks(window.search_box, "bird flights")
    qtbot.waitUntil(lambda: window.model.rowCount() == len(ANSWER["results"]), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bool(window.model.index(0, 0).data(ResultRole.Explained)),
                    timeout=WAIT_MS)
    searches = fake.requests_of("search")
    assert searches[-2].query == "bird flights" and not searches[-2].explain
    assert searches[-1].query == "bird flights" and searches[-1].explain
    # The debounce: a quick typist's twelve keys do not become twelve searches.
    assert len(searches) < 8


def test_results_render_with_highlights_at_the_right_characters(
    window: MainWindow, qtbot: Any
) -> None:
    window.search_box.setText("bird flights")
    qtbot.waitUntil(lambda: bool(window.model.index(0, 0).data(ResultRole.Explained)),
                    timeout=WAIT_MS)
    best = window.model.index(0, 0)
    text = best.data(ResultRole.Text)
    strongest = max(ANSWER["results"][0]["explanation"]["passage_spans"], key=lambda s: s[2])
    start = ANSWER["results"][0]["start"]
    ranges = window.delegate.highlight_ranges(best)
    lit = {text[s:e] for s, e, _ in ranges}
    assert text[strongest[0] - start : strongest[1] - start] in lit
    assert window.query_words.isVisibleTo(window)
    assert window.results.currentIndex().row() == 0  # the best result is selected


def test_a_stale_answer_is_dropped(window: MainWindow, fake: FakeEngine, qtbot: Any) -> None:
    fake.reply_search(answer_for, delay=1.0, query="slow old query")
    window.search_box.setText("slow old query")
    qtbot.waitUntil(lambda: bool(fake.requests_of("search")), timeout=WAIT_MS)
    window.search_box.setText("fresh query")
    qtbot.waitUntil(lambda: window.model.query == "fresh query", timeout=WAIT_MS)
    qtbot.wait(1300)  # the slow answer arrives now, and must not replace the fresh one
    assert window.model.query == "fresh query"


def test_keyboard_moves_opens_and_clears(window: MainWindow, qtbot: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr(window, "_open_path", opened.append)
    window.search_box.setText("bird flights")
    qtbot.waitUntil(lambda: window.model.rowCount() > 2, timeout=WAIT_MS)
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    assert window.results.currentIndex().row() == 1
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    qtbot.keyClick(window.search_box, Qt.Key.Key_Up)
    assert window.results.currentIndex().row() == 1
    qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
    assert opened == [ANSWER["results"][1]["path"]]
    qtbot.keyClick(window.search_box, Qt.Key.Key_Escape)
    assert window.search_box.text() == ""
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=WAIT_MS)


def test_mode_and_filters_are_sent(window: MainWindow, fake: FakeEngine, qtbot: Any) -> None:
    window.mode_box.setCurrentIndex(window.mode_box.findData("keyword"))
    window.type_box.setCurrentIndex(1)  # PDF
    window.date_box.setCurrentIndex(1)  # past week
    qtbot.waitUntil(lambda: window.folder_box.count() == 2, timeout=WAIT_MS)
    window.folder_box.setCurrentIndex(1)
    window.search_box.setText("budget")
    qtbot.waitUntil(lambda: any(r.query == "budget" for r in fake.requests_of("search")),
                    timeout=WAIT_MS)
    request = [r for r in fake.requests_of("search") if r.query == "budget"][-1]
    assert request.mode == "keyword" and request.types == ("pdf",)
    assert request.folders == ("/notes",) and request.modified_after is not None


def test_progress_and_errors_views_update(window: MainWindow, fake: FakeEngine,
                                          qtbot: Any) -> None:
    busy = {**STATUS, "queue": 120, "rate": 8.0, "eta_seconds": 15.0,
            "folder_list": [{**FOLDER, "queued": 120}]}
    fake.reply_status(busy)
    qtbot.waitUntil(lambda: "120 files to go" in window.engine_label.text(), timeout=WAIT_MS)
    assert "8.0 files/s" in window.engine_label.text()
    assert window.device_label.text() == "CPU bf16"
    fake.push(protocol.Progress(queued=7, done=113, failed=1, bytes=10, rate=9.5,
                                eta_seconds=1.0, current="/notes/a.txt"))
    qtbot.waitUntil(lambda: "7 files to go" in window.engine_label.text(), timeout=WAIT_MS)

    fake.reply_errors([{"path": "/notes/broken.docx", "state": "failed",
                        "reason": "corrupt DOCX"}])
    window.folders.errors_requested.emit()
    dialog = window._errors_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.visible_paths() == ["/notes/broken.docx"], timeout=WAIT_MS)
    dialog.table.selectRow(0)
    dialog.retry_button.click()
    qtbot.waitUntil(lambda: bool(fake.requests_of("reindex")), timeout=WAIT_MS)
    assert fake.requests_of("reindex")[-1].path == "/notes/broken.docx"
    dialog.close()


def test_engine_death_shows_a_banner_and_the_query_survives(
    window: MainWindow, fake: FakeEngine, qtbot: Any
) -> None:
    window.search_box.setText("bird flights")
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=WAIT_MS)
    fake.crash()
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
    assert "Restarting" in window.banner.text()
    before = len(fake.requests_of("search"))
    fake.restart()
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(fake.requests_of("search")) > before, timeout=WAIT_MS)
    assert fake.requests_of("search")[-1].query == "bird flights"
    assert window.search_box.text() == "bird flights"


def test_shortcuts_focus_the_search_box(window: MainWindow, qtbot: Any) -> None:
    window.results.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.search_box.hasFocus() or window.focusWidget() is window.search_box


def test_other_passages_of_a_file_fold_out_and_back(window: MainWindow, qtbot: Any) -> None:
    response = copy.deepcopy(ANSWER)
    response["query"] = "bird flights"
    response["results"][0]["more"] = [copy.deepcopy(response["results"][1]) | {"more": None}]
    window.search_box.setText("bird flights")
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=WAIT_MS)
    window.model.set_response(response)
    window.results.setCurrentIndex(window.model.index(0, 0))
    rect_before = window.results.visualRect(window.model.index(0, 0))
    qtbot.keyClick(window.search_box, Qt.Key.Key_Right)
    assert window.model.index(0, 0).data(ResultRole.Expanded)
    qtbot.waitUntil(
        lambda: window.results.visualRect(window.model.index(0, 0)).height()
        > rect_before.height(), timeout=WAIT_MS)
    qtbot.keyClick(window.search_box, Qt.Key.Key_Left)
    assert not window.model.index(0, 0).data(ResultRole.Expanded)


def test_forgetting_a_folder_says_what_was_removed(
    window: MainWindow, fake: FakeEngine, qtbot: Any
) -> None:
    folder = window._folders[0]["path"]
    window.folders.forget_requested.emit(folder)
    qtbot.waitUntil(lambda: bool(fake.requests_of("forget")), timeout=WAIT_MS)
    assert fake.requests_of("forget")[-1].paths == (folder,)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Forgot "),
                    timeout=WAIT_MS)
    assert "passage(s) removed" in window.statusBar().currentMessage()
