"""Results a person trusts at a glance, against the fake engine: the weaker-matches divider,
copies collapsed into one result, file-type icons, the PDF page preview and "more like this"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QStyleOptionViewItem

from desktop import file_icons
from desktop.engine_link import EngineLink
from desktop.file_opener import page_command
from desktop.main_window import MainWindow
from desktop.results_model import ResultRole, ResultsModel
from tests.helpers.fake_engine import FakeEngine

pytestmark = pytest.mark.gui

WAIT_MS = 5000
FOLDER = {"path": "/notes", "state": "active", "files": 6, "indexed": 6, "failed": 0,
          "skipped": 0, "queued": 0, "watch": "live", "paused": False}
STATUS = {"engine": {"state": "running", "activity": "idle"}, "queue": 0, "files": 6,
          "folder_list": [FOLDER]}
PDF = "/notes/field-report.pdf"
PDF_TEXT = "Arctic terns fly from pole to pole each year, the longest migration known."
REGIONS = ((0.1, 0.30, 0.9, 0.34), (0.1, 0.34, 0.6, 0.38))


def result(path: str, text: str, confident: bool, page: int | None = None, start: int = 0,
           also_in: list[dict[str, Any]] | None = None, score: float = 1.0) -> dict[str, Any]:
    return {"path": path, "page": page, "start": start, "end": start + len(text),
            "heading": None, "text": text, "score": score, "mtime": None, "more": [],
            "confident": confident, "also_in": also_in or []}


COPIES = [{"path": "/notes/backup/terns.txt", "page": None, "start": 0, "end": 40},
          {"path": "/notes/old/field-report-v1.pdf", "page": 3, "start": 120, "end": 160}]
ROWS = [
    result(PDF, PDF_TEXT, True, page=2, start=500, score=3.0),
    result("/notes/terns.md", "Terns migrate further than any other bird.", True,
           also_in=COPIES, score=2.5),
    result("/notes/iceland.md", "We saw puffins on the cliffs in June.", False, score=1.0),
    result("/notes/budget.txt", "The travel budget for the quarter.", False, score=0.5),
]


def answer(query: str, rows: list[dict[str, Any]] = ROWS, confident: bool = True
           ) -> dict[str, Any]:
    return {"query": query, "mode": "hybrid", "confident": confident, "elapsed_ms": 1.0,
            "results": [dict(row) for row in rows]}


def png_page(width: int = 300, height: int = 400) -> bytes:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


@pytest.fixture
def fake(data_dir: Path) -> Iterator[FakeEngine]:
    engine = FakeEngine(data_dir).start()
    engine.reply_status(STATUS)
    engine.reply_search(lambda request: answer(request.query))
    for row in ROWS:
        engine.reply_text(row["path"], " " * row["start"] + row["text"] + "\nmore text\n")
    engine.reply_page(PDF, png_page(), 300, 400, REGIONS)
    yield engine
    engine.stop()


@pytest.fixture
def window(fake: FakeEngine, data_dir: Path, qtbot: Any) -> Iterator[MainWindow]:
    link = EngineLink(data_dir, spawn=False, status_interval_ms=0)
    main = MainWindow(link, data_dir)
    qtbot.addWidget(main)
    main.show()
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        link.start()
    qtbot.waitUntil(lambda: bool(main._folders), timeout=WAIT_MS)
    opened: list[tuple[str, int | None]] = []
    main.result_actions.opener = lambda path, page: opened.append((path, page))
    main.opened = opened  # type: ignore[attr-defined]
    yield main
    link.close()


def search(window: MainWindow, qtbot: Any, query: str = "arctic terns") -> None:
    window.search_box.setText(query)
    qtbot.waitUntil(lambda: window.model.rowCount() == len(ROWS)
                    and window.model.query == query, timeout=WAIT_MS)


def select(window: MainWindow, row: int) -> None:
    window.results.setCurrentIndex(window.model.index(row, 0))


# -- the weaker-matches divider ------------------------------------------------------------


def test_the_divider_sits_where_confident_matches_end(window: MainWindow, qtbot: Any) -> None:
    search(window, qtbot)
    model = window.model
    assert model.weaker_from == 2
    assert [model.index(i, 0).data(ResultRole.WeakerStart) for i in range(4)] == [
        False, False, True, False]
    assert not window.notice.isVisible()
    # The row under the divider is taller by the divider's band, its card drawn below it.
    option = QStyleOptionViewItem()
    option.initFrom(window.results)
    option.rect.setWidth(window.results.viewport().width())
    divided = window.delegate.sizeHint(option, model.index(2, 0)).height()
    alone = ResultsModel()
    alone.set_response(answer("q", [ROWS[2]], confident=False))
    assert divided > window.delegate.sizeHint(option, alone.index(0, 0)).height() + 10


def test_no_divider_when_all_or_none_are_confident(window: MainWindow, fake: FakeEngine,
                                                  qtbot: Any) -> None:
    weak = [dict(row, confident=False) for row in ROWS]
    fake.reply_search(lambda r: answer(r.query, weak, confident=False), query="puffins")
    search(window, qtbot, "puffins")
    assert window.model.weaker_from == -1
    assert window.notice.isVisible() and "No confident match" in window.notice.text()
    strong = [dict(row, confident=True) for row in ROWS]
    fake.reply_search(lambda r: answer(r.query, strong), query="terns")
    search(window, qtbot, "terns")
    assert window.model.weaker_from == -1 and not window.notice.isVisible()


def test_an_engine_without_per_result_flags_draws_no_divider() -> None:
    model = ResultsModel()
    rows = [{k: v for k, v in row.items() if k != "confident"} for row in ROWS]
    model.set_response(answer("q", rows, confident=True))
    assert model.weaker_from == -1
    assert all(model.index(i, 0).data(ResultRole.Confident) for i in range(len(rows)))


# -- copies collapsed into one result ------------------------------------------------------


def test_copies_are_listed_and_each_opens(window: MainWindow, qtbot: Any) -> None:
    search(window, qtbot)
    index = window.model.index(1, 0)
    assert [c["name"] for c in index.data(ResultRole.AlsoIn)] == ["terns.txt",
                                                                   "field-report-v1.pdf"]
    assert "Also in 2 other files: terns.txt, field-report-v1.pdf" in (
        window.delegate._footer_lines(index))
    select(window, 1)
    copies = window.preview.copies
    assert copies.isVisibleTo(window) and len(copies.buttons) == 2
    qtbot.mouseClick(copies.buttons[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(window.opened), timeout=WAIT_MS)
    assert window.opened == [("/notes/old/field-report-v1.pdf", 3)]  # at the copy's page

    menu = window.result_actions.build_menu(index)
    submenu = next(a.menu() for a in menu.actions() if a.menu() is not None)
    assert submenu.title() == "Also in 2 other files"
    submenu.actions()[0].trigger()
    assert window.opened[-1] == ("/notes/backup/terns.txt", None)
    select(window, 2)  # a result without copies hides the list
    assert not copies.isVisibleTo(window)


# -- file-type icons -----------------------------------------------------------------------


def _image(name: str) -> QImage:
    return file_icons.file_pixmap(name, 32).toImage()


def test_icons_follow_the_file_type(qtbot: Any) -> None:
    assert file_icons.mime_name("report.pdf") == "application/pdf"
    assert _image("a.pdf") == _image("b.PDF")  # by MIME type, not by name
    assert _image("a.pdf") != _image("a.txt")
    assert not _image("a.docx").isNull()


def test_without_theme_icons_each_type_gets_its_own_drawn_icon(
        qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_icons, "themed_icon", lambda name: file_icons.QIcon())
    file_icons._icon_for_suffix.cache_clear()
    try:
        pdf, txt, docx = _image("a.pdf"), _image("a.txt"), _image("a.docx")
        assert pdf != txt and pdf != docx and txt != docx
        band = pdf.pixelColor(16, 23)  # the type's band, red for PDF
        assert band.red() > 180 and band.green() < 110
    finally:
        file_icons._icon_for_suffix.cache_clear()


# -- the PDF page ---------------------------------------------------------------------------


def test_a_pdf_result_shows_its_page_with_the_passage_marked(
        window: MainWindow, fake: FakeEngine, qtbot: Any) -> None:
    search(window, qtbot)
    preview = window.preview
    qtbot.waitUntil(lambda: preview.showing_page, timeout=WAIT_MS)  # row 0 is the PDF
    request = fake.requests_of("get_page")[-1]
    assert (request.path, request.page, request.start, request.end) == (
        PDF, 2, 500, 500 + len(PDF_TEXT))
    canvas = preview.page_view.canvas
    rects = canvas.region_rects()
    assert len(rects) == 2
    image = canvas.grab().toImage()
    inside = image.pixelColor(rects[0].center().toPoint())
    outside = image.pixelColor(QPoint(int(rects[0].center().x()), int(rects[0].bottom()) + 40))
    assert outside.lightness() > 240 and inside.lightness() < outside.lightness()

    qtbot.mouseClick(preview.view_switch.text_button, Qt.MouseButton.LeftButton)
    assert preview.editor.isVisible() and not preview.showing_page
    select(window, 1)  # not a PDF: no page, no switch
    assert not preview.view_switch.isVisibleTo(window) and preview.editor.isVisible()
    select(window, 0)
    assert preview.editor.isVisible()  # the user's choice of the text view holds
    asked = len(fake.requests_of("get_page"))
    qtbot.mouseClick(preview.view_switch.page_button, Qt.MouseButton.LeftButton)
    assert preview.showing_page and len(fake.requests_of("get_page")) == asked  # cached

    width = canvas.width()
    qtbot.keyClick(preview.page_view, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert canvas.width() > width * 1.2  # Ctrl++ zooms in, Ctrl+0 fits the width again
    qtbot.keyClick(preview.page_view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert canvas.width() == width

    window._open_current()
    assert window.opened[-1] == (PDF, 2)  # the viewer opens at the result's page
    menu = window.result_actions.build_menu(window.model.index(0, 0))
    assert menu.actions()[0].text().startswith("Open at page 2")


def test_a_page_the_engine_cannot_draw_says_so_and_the_text_stays(
        window: MainWindow, fake: FakeEngine, qtbot: Any) -> None:
    fake.reply_error("get_page", "failed", "pdfium could not open it")
    search(window, qtbot)
    preview = window.preview
    page_button = preview.view_switch.page_button
    qtbot.waitUntil(lambda: not page_button.isEnabled(), timeout=WAIT_MS)
    assert "Page 2 could not be shown: pdfium could not open it" in page_button.toolTip()
    assert preview.editor.isVisible() and preview.view_switch.text_button.isChecked()
    fake.forget_error("get_page")  # the page can be drawn again
    select(window, 1)
    select(window, 0)
    qtbot.waitUntil(lambda: preview.showing_page, timeout=WAIT_MS)  # the choice was kept


def test_the_viewer_is_told_the_page_when_it_takes_one() -> None:
    installed = {"evince": "/usr/bin/evince", "okular": "/usr/bin/okular"}.get
    assert page_command("/a b.pdf", 4, "org.gnome.Evince.desktop", installed) == [
        "/usr/bin/evince", "--page-index=4", "/a b.pdf"]
    assert page_command("/a.pdf", 4, "okularApplication_pdf.desktop", installed) == [
        "/usr/bin/okular", "-p", "4", "/a.pdf"]
    assert page_command("/a.pdf", 4, "firefox.desktop", installed) is None  # opened plainly
    assert page_command("/a.pdf", 4, None, installed)[0] == "/usr/bin/evince"  # type: ignore


# -- more like this -------------------------------------------------------------------------


def test_more_like_this_shows_similar_passages_and_goes_back(
        window: MainWindow, fake: FakeEngine, qtbot: Any) -> None:
    source = ROWS[1]
    like = [dict(source), result("/notes/birds.txt", "Swifts stay aloft for months.", True),
            result("/notes/geese.md", "Geese fly in a V to save energy.", False)]
    fake.reply_similar(lambda request: {"query": "", "mode": "similar", "confident": True,
                                        "elapsed_ms": 1.0, "results": like})
    search(window, qtbot)
    select(window, 1)
    window.results.setFocus()
    qtbot.keyClick(window.results, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    header = window.similar_header
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT_MS)
    request = fake.requests_of("similar")[-1]
    assert (request.path, request.page, request.start) == (source["path"], None, 0)
    assert header.isVisible() and header.title.text() == "More like terns.md"
    assert "“arctic terns”" in header.back_button.toolTip()
    assert window.model.index(0, 0).data(ResultRole.Path) == "/notes/birds.txt"  # not itself
    assert window.model.weaker_from == 1 and not window.query_words.isVisible()

    qtbot.keyClick(window.search_box, Qt.Key.Key_Escape)  # Esc goes back first
    assert not header.isVisible() and window.search_box.text() == "arctic terns"
    assert window.model.rowCount() == len(ROWS)
    assert window.results.currentIndex().row() == 1

    window.preview.similar_requested.emit()  # the preview's button does the same
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT_MS)
    window.search_box.setText("geese")  # a new search leaves "more like this" behind
    qtbot.waitUntil(lambda: window.model.query == "geese", timeout=WAIT_MS)
    assert not header.isVisible() and window.model.rowCount() == len(ROWS)


def test_the_link_routes_similar_and_page_answers(fake: FakeEngine, data_dir: Path,
                                                 qtbot: Any) -> None:
    link = EngineLink(data_dir, spawn=False, status_interval_ms=0)
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        link.start()
    try:
        with qtbot.waitSignal(link.similar_received, timeout=WAIT_MS) as got, \
                qtbot.assertNotEmitted(link.results_received, wait=100):
            sent = link.similar(PDF, page=2, start=500)
        assert got.args[0] == sent and got.args[1]["results"] == []
        with qtbot.waitSignal(link.page_received, timeout=WAIT_MS) as page:
            link.request_page(PDF, 2, 500, 560, width=700)
        rendered = page.args[1]
        assert (rendered.path, rendered.page, rendered.regions) == (PDF, 2, REGIONS)
        assert rendered.image.width() == 300
        assert fake.requests_of("get_page")[-1].width == 700
        fake.reply_page(PDF, b"not a png", 1, 1)
        with qtbot.waitSignal(link.request_failed, timeout=WAIT_MS) as failed:
            bad = link.request_page(PDF, 2)
        assert failed.args[:2] == [bad, "bad_message"]
    finally:
        link.close()
