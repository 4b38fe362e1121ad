"""Shows the selected passage inside its file's text, or for a PDF the page it came from, so the
user can read around a match before deciding to open the file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePath
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.engine_signals import RenderedPage
from desktop.file_icons import file_pixmap
from desktop.icons import icon
from desktop.page_view import PageView
from desktop.preview_header import CopiesLine, ElidedLabel, ViewSwitch
from engine.serve.display import display_path

PASSAGE_ALPHA = 40
MIN_ALPHA, MAX_ALPHA = 70, 180
KEYWORD_COLOR = QColor(232, 145, 45)  # the same amber the result list underlines with
PLACEHOLDER = "Select a result to preview it"


class PreviewPane(QWidget):
    """Read-only view of one file's text with the passage marked; asks the window to open files."""

    # Paths go as `object`: a Signal(str) would drop the bytes of a name that is not UTF-8.
    open_requested = Signal(object)  # the shown file, or one of its copies (`CopiesLine`)
    reveal_requested = Signal(object)
    similar_requested = Signal()  # "More like this" for the shown passage
    page_view_chosen = Signal(bool)  # the user switched a paged file to its page (or its text)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = ""
        self._text: str | None = None
        self._page: int | None = None  # the shown passage's page, when the engine can draw it
        self._page_problem = ""  # why that page could not be drawn

        self._icon = QLabel(self)
        self._name = ElidedLabel(self)  # a long name gives way, not the buttons beside it
        font = QFont(self._name.font())
        font.setBold(True)
        self._name.setFont(font)
        self._folder = ElidedLabel(self)
        self._folder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._name.setMinimumWidth(120)  # a narrow pane still says which file it shows
        self._open = QPushButton(icon("open"), "Open", self)
        self._reveal = QPushButton(icon("reveal"), "Show in folder", self)
        self._open.clicked.connect(self._on_open_clicked)
        self._reveal.clicked.connect(self._on_reveal_clicked)
        self._similar = QPushButton(icon("sparkle"), "More like this", self)
        self._similar.setToolTip("Find passages like this one in meaning (Ctrl+M)")
        self._similar.clicked.connect(self._on_similar_clicked)
        self.view_switch = ViewSwitch(self)
        self.view_switch.chosen.connect(self._on_view_switch_chosen)
        self.copies = CopiesLine(self)
        self.copies.open_requested.connect(self.open_requested)
        self.page_view = PageView(self)
        self._part_note = QLabel(self)  # "part of a long file", when only that came
        self._part_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._part_note.hide()
        self._page_note = QLabel(self)
        self._page_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._page_note.setWordWrap(True)
        self._page_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self._editor = QPlainTextEdit(self)
        self._editor.setReadOnly(True)
        self._editor.setUndoRedoEnabled(False)
        self._editor.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                             | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self._editor.setCenterOnScroll(True)  # lets a passage near the end scroll to the middle
        self._placeholder = QLabel(PLACEHOLDER, self)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._stack = QStackedWidget(self)
        for widget in (self._placeholder, self._editor, self.page_view, self._page_note):
            self._stack.addWidget(widget)

        header = QHBoxLayout()
        header.addWidget(self._icon)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self._name)
        titles.addWidget(self._folder)
        header.addLayout(titles, 1)
        header.addWidget(self._open)
        header.addWidget(self._reveal)
        tools = QHBoxLayout()
        tools.addWidget(self.view_switch)
        tools.addStretch(1)
        tools.addWidget(self._similar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addLayout(tools)
        layout.addWidget(self.copies)
        layout.addWidget(self._part_note)
        layout.addWidget(self._stack, 1)
        self.clear()

    @property
    def path(self) -> str:
        return self._path

    @property
    def editor(self) -> QPlainTextEdit:
        return self._editor

    @property
    def showing_page(self) -> bool:
        return self._stack.currentWidget() is self.page_view

    def clear(self) -> None:
        self._path, self._text, self._page, self._page_problem = "", None, None, ""
        self._editor.clear()
        self._editor.setExtraSelections([])
        self._icon.clear()
        self._name.clear()
        self._folder.clear()
        self.page_view.clear()
        self.copies.set_copies([])
        self._part_note.hide()
        self.view_switch.set_available(False)
        for button in (self._open, self._reveal, self._similar):
            button.setEnabled(False)
        self._stack.setCurrentWidget(self._placeholder)

    def set_details(self, page: int | None, copies: Sequence[dict[str, Any]] = ()) -> None:
        """What else the result says: its page, when the engine can draw that page for this
        file (a PDF), and the other files holding the same passage."""
        if page != self._page:
            self.page_view.clear()
        self._page, self._page_problem = page, ""
        self.view_switch.set_available(page is not None)
        self.copies.set_copies(copies)
        self._show_view()

    def show_page(self, rendered: RenderedPage) -> None:
        """The engine drew the page: show it, if it is still the shown passage's page."""
        if rendered.path == self._path and rendered.page == self._page:
            self.page_view.show_page(rendered.path, rendered.page, rendered.image,
                                     rendered.regions)
            self._show_view()

    def page_failed(self, message: str) -> None:
        """The page could not be drawn: the text stands in, and the Page chip says why."""
        self._page_problem = f"Page {self._page} could not be shown: {message}"
        self.view_switch.set_available(self._page is not None, self._page_problem)
        self._show_view()

    def _show_view(self) -> None:
        if not self._path:
            return
        if self._page is None or not self.view_switch.page_chosen or self._page_problem:
            self._stack.setCurrentWidget(self._editor)
        elif self.page_view.shown == (self._path, self._page):
            self._stack.setCurrentWidget(self.page_view)
        else:
            self._page_note.setText(f"Drawing page {self._page}…")
            self._stack.setCurrentWidget(self._page_note)

    def show_passage(
        self,
        path: str,
        text: str,
        start: int,
        end: int,
        spans: Iterable[Sequence[float]] = (),
        keyword_spans: Iterable[Sequence[int]] = (),
    ) -> None:
        """Show `text` with [start, end) marked as the passage.

        `text` is the file's whole extracted text when the window has it, else the passage
        alone (then start=0, end=len(text)). `spans` (start, end, weight) and `keyword_spans`
        (start, end) are relative to the passage, as `ResultsModel` gives them."""
        pure = PurePath(path)
        if path != self._path:
            self._icon.setPixmap(file_pixmap(pure.name, 32, self.devicePixelRatioF()))
        self._path = path
        self._name.setText(display_path(pure.name or path))  # U+FFFD for bytes not UTF-8
        self._name.setToolTip(display_path(path))
        self._folder.setText(display_path(str(pure.parent)) if pure.name else "")
        for button in (self._open, self._reveal, self._similar):
            button.setEnabled(True)
        if text != self._text:  # another passage of the same file keeps its layout
            self._part_note.hide()
            # QTextDocument turns "\r\n" into one block break; a space keeps offsets aligned.
            self._editor.setPlainText(text.replace("\r", " "))
            self._text = text
        self._show_view()

        start = max(0, min(start, len(text)))
        end = max(start, min(end, len(text)))
        marks = [(start, end, _background(self, PASSAGE_ALPHA))]
        weighted = [(int(s), int(e), float(w)) for s, e, w, *_ in spans if w > 0]
        top = max((w for _, _, w in weighted), default=0.0)
        for s, e, w in weighted:
            alpha = round(MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * w / top)
            marks.append((start + s, start + e, _background(self, alpha)))
        underline = QTextCharFormat()
        underline.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
        underline.setUnderlineColor(KEYWORD_COLOR)
        marks += [(start + int(s), start + int(e), underline) for s, e, *_ in keyword_spans]

        # Only inside the passage: a span past its end would be an engine bug, not a match.
        marks = [(max(start, min(s, end)), max(start, min(e, end)), fmt) for s, e, fmt in marks]
        positions = _document_positions(text, [p for s, e, _ in marks for p in (s, e)])
        selections = []
        for i, (s, e, fmt) in enumerate(marks):
            if s >= e and i > 0:
                continue
            selection = QTextEdit.ExtraSelection()
            selection.cursor = QTextCursor(self._editor.document())
            selection.cursor.setPosition(positions[s])
            selection.cursor.setPosition(positions[e], QTextCursor.MoveMode.KeepAnchor)
            selection.format = fmt
            selections.append(selection)
        self._editor.setExtraSelections(selections)
        self._scroll_to(positions[end], positions[start])

    def show_part(self, offset: int, shown: int, length: int | None) -> None:
        """Say that the text shown is only characters [offset, offset + shown) of a file's
        `length` (a long file comes as a window around its passage); None: it is all there."""
        if length is None or shown >= length:
            self._part_note.hide()
            return
        self._part_note.setText(f"Part of a long file: characters {offset + 1:,} to "
                                f"{offset + shown:,} of {length:,}. Open it to read it all.")
        self._part_note.show()

    def _scroll_to(self, end: int, start: int) -> None:
        # End first, then start: a passage that fits is all in view, a long one from its top.
        cursor = QTextCursor(self._editor.document())
        cursor.setPosition(end)
        self._editor.setTextCursor(cursor)
        self._editor.ensureCursorVisible()
        cursor.setPosition(start)
        self._editor.setTextCursor(cursor)
        self._editor.ensureCursorVisible()

    def _on_open_clicked(self) -> None:
        if self._path:
            self.open_requested.emit(self._path)

    def _on_reveal_clicked(self) -> None:
        if self._path:
            self.reveal_requested.emit(self._path)

    def _on_similar_clicked(self) -> None:
        if self._path:
            self.similar_requested.emit()

    def _on_view_switch_chosen(self, page: bool) -> None:
        self._show_view()
        self.page_view_chosen.emit(page)


def _background(widget: QWidget, alpha: int) -> QTextCharFormat:
    color = widget.palette().color(QPalette.ColorRole.Highlight)
    color.setAlpha(alpha)
    fmt = QTextCharFormat()
    fmt.setBackground(color)
    return fmt


def _document_positions(text: str, offsets: list[int]) -> dict[int, int]:
    """Document positions for Python string offsets: QTextDocument counts UTF-16 units."""
    if text.isascii():
        return {offset: offset for offset in offsets}
    positions, done, units = {}, 0, 0
    for offset in sorted(set(offsets)):
        units += len(text[done:offset].encode("utf-16-le")) // 2
        positions[offset], done = units, offset
    return positions
