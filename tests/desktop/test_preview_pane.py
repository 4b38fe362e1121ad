"""PreviewPane marks the passage inside the file's text and asks for the file to be opened."""

from __future__ import annotations

import time
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QLabel, QPushButton, QStackedWidget

from desktop.preview_pane import PLACEHOLDER, PreviewPane

pytestmark = [
    pytest.mark.gui,
    # The offscreen platform cannot resize a shown top-level window to its new size hints;
    # in the app the pane is a child widget and never asks.
    pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints"),
]

PASSAGE = "Document 11 talks about the migration of arctic terns and their long flights number 11."
SPANS = [(28, 37, 0.03), (48, 53, 0.04), (69, 76, 0.08), (77, 83, -0.002)]
KEYWORDS = [(69, 76)]


@pytest.fixture
def pane(qtbot: Any) -> PreviewPane:
    pane = PreviewPane()
    qtbot.add_widget(pane)
    pane.resize(500, 400)
    pane.show()
    qtbot.wait_exposed(pane)
    return pane


def file_text(lines: int, line: str = "a line of the file around the match\n") -> tuple[str, int]:
    before = line * lines
    return before + PASSAGE + "\n" + line * lines, len(before)


def selected(selection: Any) -> str:
    return selection.cursor.selectedText()


def test_passage_is_marked_and_in_view(pane: PreviewPane) -> None:
    text, start = file_text(2000)
    pane.show_passage("/docs/d11.txt", text, start, start + len(PASSAGE), SPANS, KEYWORDS)
    selections = pane.editor.extraSelections()
    assert selected(selections[0]) == PASSAGE
    marked = [selected(s) for s in selections[1:] if s.format.background().style()
              != Qt.BrushStyle.NoBrush]
    assert marked == ["migration", "terns", "flights"]  # the negative weight is not shown
    strongest = max(selections[1:4], key=lambda s: s.format.background().color().alpha())
    assert selected(strongest) == "flights"
    underlined = [selected(s) for s in selections if s.format.fontUnderline()
                  or s.format.underlineStyle() != s.format.underlineStyle().NoUnderline]
    assert underlined == ["flights"]

    cursor = QTextCursor(pane.editor.document())
    cursor.setPosition(start)
    assert pane.editor.viewport().rect().contains(pane.editor.cursorRect(cursor).center())
    cursor.setPosition(start + len(PASSAGE))
    assert pane.editor.viewport().rect().contains(pane.editor.cursorRect(cursor).center())
    assert pane.editor.verticalScrollBar().value() > 0
    assert pane.findChild(QStackedWidget).currentWidget() is pane.editor


def test_passage_alone(pane: PreviewPane) -> None:
    pane.show_passage("/docs/d11.txt", PASSAGE, 0, len(PASSAGE), SPANS, KEYWORDS)
    assert selected(pane.editor.extraSelections()[0]) == PASSAGE
    assert pane.editor.toPlainText() == PASSAGE


def test_offsets_survive_emoji_and_crlf(pane: PreviewPane) -> None:
    text, start = file_text(50, "a 🐦 line\r\n")
    pane.show_passage("/docs/d11.txt", text, start, start + len(PASSAGE), SPANS, KEYWORDS)
    selections = pane.editor.extraSelections()
    assert selected(selections[0]) == PASSAGE
    assert selected(selections[1]) == "migration"


def test_spans_outside_the_passage_are_dropped(pane: PreviewPane) -> None:
    text, start = file_text(5)
    pane.show_passage("/d.txt", text, start, start + len(PASSAGE), [(-50, 3, 0.5), (80, 900, 1.0)])
    marked = [selected(s) for s in pane.editor.extraSelections()]
    assert marked == [PASSAGE, "Doc", PASSAGE[80:]]


def test_buttons_ask_to_open_and_reveal(qtbot: Any, pane: PreviewPane) -> None:
    pane.show_passage("/docs/d11.txt", PASSAGE, 0, len(PASSAGE), SPANS, KEYWORDS)
    buttons = {b.text(): b for b in pane.findChildren(QPushButton)}
    with qtbot.wait_signal(pane.open_requested) as opened:
        qtbot.mouseClick(buttons["Open"], Qt.MouseButton.LeftButton)
    assert opened.args == ["/docs/d11.txt"]
    with qtbot.wait_signal(pane.reveal_requested) as revealed:
        qtbot.mouseClick(buttons["Show in folder"], Qt.MouseButton.LeftButton)
    assert revealed.args == ["/docs/d11.txt"]
    texts = [label.text() for label in pane.findChildren(QLabel)]
    assert "d11.txt" in texts and "/docs" in texts


def test_clear_shows_the_placeholder(qtbot: Any, pane: PreviewPane) -> None:
    pane.show_passage("/docs/d11.txt", PASSAGE, 0, len(PASSAGE), SPANS, KEYWORDS)
    pane.clear()
    stack = pane.findChild(QStackedWidget)
    assert isinstance(stack.currentWidget(), QLabel)
    assert stack.currentWidget().text() == PLACEHOLDER
    assert pane.path == ""
    buttons = pane.findChildren(QPushButton)
    assert buttons and not any(b.isEnabled() for b in buttons)
    with qtbot.assert_not_emitted(pane.open_requested):
        qtbot.mouseClick(buttons[0], Qt.MouseButton.LeftButton)


def test_a_megabyte_of_text_stays_responsive(pane: PreviewPane) -> None:
    text, start = file_text(15000, "a line of some file, long enough to fill a megabyte of text\n")
    assert len(text) > 1_000_000
    began = time.perf_counter()
    pane.show_passage("/big.txt", text, start, start + len(PASSAGE), SPANS, KEYWORDS)
    first = time.perf_counter() - began
    began = time.perf_counter()
    pane.show_passage("/big.txt", text, 10, 50, [(0, 5, 1.0)], [])  # same file: no re-layout
    again = time.perf_counter() - began
    assert first < 2.0
    assert again < 0.1
    assert selected(pane.editor.extraSelections()[0]) == text[10:50]
