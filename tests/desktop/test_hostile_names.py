"""A file name that is not UTF-8, or holds control characters, shows with U+FFFD in the app
and still opens the very file: PySide6 would silently drop the surrogate escapes."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QPushButton

from desktop import file_opener
from desktop.engine_link import EngineLink
from desktop.engine_signals import PreviewText
from desktop.errors_dialog import ErrorColumn, ErrorsModel
from desktop.file_opener import local_path, local_url
from desktop.main_window import MainWindow
from desktop.result_rows import parse_row
from tests.helpers.engine_process import stop_leftover_engine
from tests.helpers.fake_engine import FakeEngine

pytestmark = pytest.mark.gui

ODD = os.fsdecode(b"/home/ada/old-\xc4/caf\xe9\n.txt")
WAIT_MS = 5000


def test_a_result_shows_replacement_characters_but_keeps_its_path() -> None:
    row = parse_row({"path": ODD, "start": 0, "end": 5, "text": "hello", "score": 1.0}, 3, True)
    assert row is not None
    assert row.best.path == ODD  # what previews and opens the file
    assert row.best.name == "caf\ufffd\ufffd.txt"
    assert row.best.folder == "/home/ada/old-\ufffd"


def test_the_problem_list_shows_replacement_characters(qtbot: Any) -> None:
    model = ErrorsModel()
    model.set_errors([{"path": ODD, "state": "failed", "reason": "corrupt PDF"}])
    name = model.index(0, int(ErrorColumn.FILE)).data(Qt.ItemDataRole.DisplayRole)
    tip = model.index(0, int(ErrorColumn.FILE)).data(Qt.ItemDataRole.ToolTipRole)
    assert name == "caf\ufffd\ufffd.txt"
    assert "/home/ada/old-\ufffd/caf\ufffd\ufffd.txt" in tip


def test_a_url_for_a_name_that_is_not_utf8_keeps_its_bytes() -> None:
    url = local_url(ODD)
    assert url.isLocalFile()
    assert bytes(url.toEncoded().data()) == b"file:///home/ada/old-%C4/caf%E9%0A.txt"
    assert local_url("/plain/é.txt").toLocalFile() == "/plain/é.txt"


# -- the window over a fake engine: every action reaches the very file ----------------------

FOLDER = os.fsdecode(b"/home/ada/old-\xc4")
FILE = os.fsdecode(b"/home/ada/old-\xc4/caf\xe9.txt")
COPY = os.fsdecode(b"/home/ada/copies/caf\xe9 (2).txt")
TEXT = "A menu from the old caf\u00e9.\n\nSoup of the day: leek and potato, with rye bread.\n"
PASSAGE_START = TEXT.index("Soup")
STATUS = {"engine": {"state": "running", "activity": "idle"}, "queue": 0, "folders": 1,
          "folder_list": [{"path": FOLDER, "state": "active", "files": 1, "indexed": 1,
                           "failed": 0, "skipped": 0, "queued": 0, "watch": "live",
                           "paused": False}]}


def _answer(request: Any) -> dict[str, Any]:
    hit = {"path": FILE, "page": None, "start": PASSAGE_START, "end": len(TEXT) - 1,
           "text": TEXT[PASSAGE_START:-1], "score": 1.0, "mtime": 1.0,
           "also_in": [{"path": COPY, "page": None}]}
    return {"query": request.query, "mode": "keyword", "confident": True, "elapsed_ms": 1.0,
            "results": [hit]}


@pytest.fixture
def fake(data_dir: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(data_dir).start()
    engine.reply_status(STATUS)
    engine.reply_search(_answer)
    engine.reply_text(FILE, TEXT)
    engine.reply_errors([{"path": FILE, "state": "failed", "reason": "corrupt"}])
    yield engine
    engine.stop()


@pytest.fixture
def window(fake: FakeEngine, data_dir: Path, qtbot: Any,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    urls: list[bytes] = []
    # Opening and revealing go to the system through QDesktopServices: record the URL's bytes.
    monkeypatch.setattr(file_opener.QDesktopServices, "openUrl",
                        lambda url: urls.append(bytes(url.toEncoded().data())) or True)
    link = EngineLink(data_dir, spawn=False, status_interval_ms=200)
    main = MainWindow(link, data_dir)
    main.opened_urls = urls  # type: ignore[attr-defined]
    qtbot.addWidget(main)
    main.show()
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        link.start()
    qtbot.waitUntil(lambda: bool(main._folders), timeout=WAIT_MS)
    main.search_box.setText("soup")
    qtbot.waitUntil(lambda: main.model.rowCount() == 1
                    and main.results.currentIndex().isValid(), timeout=WAIT_MS)
    yield main
    link.close()


def test_a_name_that_is_not_utf8_is_previewed_from_the_engine(
    window: MainWindow, fake: FakeEngine, qtbot: Any
) -> None:
    qtbot.waitUntil(lambda: window.preview.editor.toPlainText() == TEXT, timeout=WAIT_MS)
    (asked,) = fake.requests_of("get_text")
    assert asked.path == FILE  # the exact path: surrogate escapes and all
    assert (asked.start, asked.end) == (PASSAGE_START, len(TEXT) - 1)
    assert window.preview.path == FILE
    (passage, *_) = window.preview.editor.extraSelections()
    assert passage.cursor.selectedText() == TEXT[PASSAGE_START:-1]
    labels = [label.text() for label in window.preview.findChildren(QLabel)]
    assert "caf\ufffd.txt" in labels and "/home/ada/old-\ufffd" in labels
    assert window.model.index(0, 0).data() == "caf\ufffd.txt"


def test_open_reveal_and_copies_reach_the_files_bytes(
    window: MainWindow, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls: list[bytes] = window.opened_urls  # type: ignore[attr-defined]
    qtbot.keyClick(window.search_box, Qt.Key.Key_Return)  # open the current result
    window.result_actions.reveal_current()
    qtbot.waitUntil(lambda: window.preview.path == FILE, timeout=WAIT_MS)
    buttons = {b.text(): b for b in window.preview.findChildren(QPushButton)}
    qtbot.mouseClick(buttons["Open"], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(buttons["Show in folder"], Qt.MouseButton.LeftButton)
    (copy_link,) = window.preview.copies.buttons
    copy_link.clicked.emit()  # "Also in": the copy, not the result
    file_url = b"file:///home/ada/old-%C4/caf%E9.txt"
    folder_url = b"file:///home/ada/old-%C4"
    assert urls[:4] == [file_url, folder_url, file_url, folder_url]
    assert _named(urls[4]) == COPY
    # The right-click menu's actions hold the same paths.
    menu = window.result_actions.build_menu(window.results.currentIndex())
    actions = {a.text().split("\t")[0]: a for a in menu.actions()}
    actions["Open"].trigger()
    actions["Copy path"].trigger()
    assert urls[-1] == file_url
    mime = QGuiApplication.clipboard().mimeData()
    assert bytes(mime.data("text/uri-list").data()) == file_url + b"\r\n"
    assert mime.text() == "/home/ada/old-\ufffd/caf\ufffd.txt"
    assert "/home/ada/copies/caf\ufffd (2).txt" in [
        a.text() for a in actions[menu.actions()[3].text()].menu().actions()]


def test_more_like_this_asks_about_the_exact_path(
    window: MainWindow, fake: FakeEngine, qtbot: Any
) -> None:
    qtbot.keyClick(window.search_box, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(fake.requests_of("similar")), timeout=WAIT_MS)
    (asked,) = fake.requests_of("similar")
    assert (asked.path, asked.start) == (FILE, PASSAGE_START)
    assert "More like caf\ufffd.txt" in window.similar_header.title.text()


def test_folders_filters_and_problems_keep_the_exact_paths(
    window: MainWindow, fake: FakeEngine, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert window.folders.paths() == [FOLDER]
    assert window.folders.select_path(FOLDER)
    with qtbot.waitSignal(window.folders.pause_requested) as paused:
        window.folders.pause_button.click()
    assert paused.args == [FOLDER]
    qtbot.waitUntil(lambda: bool(fake.requests_of("pause")), timeout=WAIT_MS)
    assert fake.requests_of("pause")[-1].path == FOLDER

    window.folder_box.setCurrentIndex(1)  # search this folder only
    qtbot.waitUntil(lambda: fake.requests_of("search")[-1].folders == (FOLDER,),
                    timeout=WAIT_MS)
    assert window.folder_box.currentText() == "old-\ufffd"

    window.folders.errors_requested.emit()
    dialog = window._errors_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.visible_paths() == [FILE], timeout=WAIT_MS)
    dialog.table.selectRow(0)
    resets: list[bool] = []
    dialog.model.modelReset.connect(lambda: resets.append(True))
    with qtbot.waitSignal(dialog.retry_requested) as retried:
        dialog.retry_button.click()
    assert retried.args == [[FILE]]
    qtbot.waitUntil(lambda: bool(fake.requests_of("reindex")), timeout=WAIT_MS)
    assert fake.requests_of("reindex")[-1].path == FILE
    qtbot.waitUntil(lambda: bool(resets), timeout=WAIT_MS)  # the list, asked for again
    dialog.table.selectRow(0)
    with qtbot.waitSignal(dialog.reveal_requested) as revealed:
        dialog.reveal_button.click()
    assert revealed.args == [FILE]
    with qtbot.waitSignal(dialog.reveal_requested) as revealed:
        dialog.table.doubleClicked.emit(dialog.table.model().index(0, int(ErrorColumn.REASON)))
    assert revealed.args == [FILE]


def test_a_dropped_folder_keeps_its_bytes() -> None:
    mime = QMimeData()
    mime.setData("text/uri-list", b"file:///home/ada/old-%C4\r\n")
    (url,) = mime.urls()
    assert local_path(url) == FOLDER


def _named(url: bytes) -> str:
    """The path a file:// URL names, byte for byte."""
    assert url.startswith(b"file://")
    return os.fsdecode(urllib.parse.unquote_to_bytes(url[len(b"file://"):]))


# -- over a real engine ----------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.model
def test_a_real_engine_previews_opens_and_finds_like_a_name_that_is_not_utf8(
    data_dir: Path, tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Path(tempfile.mkdtemp(prefix="dw-"))  # sun_path is short; pytest's tmp is long
    monkeypatch.setenv("DOWSE_RUNTIME_DIR", str(runtime))
    folder = tmp_path / "notes"
    folder.mkdir()
    odd = os.path.join(str(folder), os.fsdecode(b"caf\xe9-menu.txt"))
    text = "The old caf\u00e9 serves leek soup with rye bread every Thursday.\n"
    with open(os.fsencode(odd), "w", encoding="utf-8") as out:
        out.write(text)
    (folder / "swift.txt").write_text("Swifts fly south to Africa every autumn.\n")
    urls: list[bytes] = []
    monkeypatch.setattr(file_opener.QDesktopServices, "openUrl",
                        lambda url: urls.append(bytes(url.toEncoded().data())) or True)
    link = EngineLink(data_dir, spawn=True, status_interval_ms=300)
    texts: list[PreviewText] = []
    failures: list[str] = []
    link.text_received.connect(lambda _id, got: texts.append(got))
    link.request_failed.connect(lambda _id, _code, message: failures.append(message))
    window = MainWindow(link, data_dir)
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(link.connected, timeout=60_000):
            link.start()
        with qtbot.waitSignal(link.folder_changed, timeout=90_000,
                              check_params_cb=lambda row: row["state"] == "idle"):
            link.pin(str(folder))
        window.search_box.setText("leek soup Thursday")
        qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=30_000)
        assert window.model.index(0, 0).data() == "caf\ufffd-menu.txt"
        # The preview's text comes from the engine, asked for by the very path.
        qtbot.waitUntil(lambda: bool(texts), timeout=30_000)
        assert texts[0].path == odd and texts[0].text.strip() == text.strip()
        assert window.preview.editor.toPlainText().strip() == text.strip()
        qtbot.keyClick(window.search_box, Qt.Key.Key_Return)
        assert [_named(url) for url in urls] == [odd]
        assert os.path.exists(os.fsencode(_named(urls[0])))
        qtbot.keyClick(window.search_box, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.model.query == "" and window.model.rowCount() > 0,
                        timeout=30_000)
        assert "Failed" not in window.similar_header.detail.text()
        assert failures == []
        with qtbot.waitSignal(link.engine_stopped, timeout=30_000):
            link.shutdown_engine()
    finally:
        link.close()
        stop_leftover_engine(data_dir)
        shutil.rmtree(runtime, ignore_errors=True)

