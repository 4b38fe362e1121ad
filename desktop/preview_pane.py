"""Shows the selected passage inside its file's text, so the user can read around a match
before deciding to open the file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePath

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

PASSAGE_ALPHA = 40
MIN_ALPHA, MAX_ALPHA = 70, 180
KEYWORD_COLOR = QColor(232, 145, 45)  # the same amber the result list underlines with
PLACEHOLDER = "Select a result to preview it"


class PreviewPane(QWidget):
    """Read-only view of one file's text with the passage marked; asks the window to open files."""

    open_requested = Signal(str)
    reveal_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = ""
        self._text: str | None = None

        self._name = QLabel(self)
        font = QFont(self._name.font())
        font.setBold(True)
        self._name.setFont(font)
        self._name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._folder = QLabel(self)
        self._folder.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._open = QPushButton("Open", self)
        self._reveal = QPushButton("Show in folder", self)
        self._open.clicked.connect(self._on_open_clicked)
        self._reveal.clicked.connect(self._on_reveal_clicked)

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
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(self._editor)

        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self._name)
        titles.addWidget(self._folder)
        header.addLayout(titles, 1)
        header.addWidget(self._open)
        header.addWidget(self._reveal)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self._stack, 1)
        self.clear()

    @property
    def path(self) -> str:
        return self._path

    @property
    def editor(self) -> QPlainTextEdit:
        return self._editor

    def clear(self) -> None:
        self._path, self._text = "", None
        self._editor.clear()
        self._editor.setExtraSelections([])
        self._name.clear()
        self._folder.clear()
        for button in (self._open, self._reveal):
            button.setEnabled(False)
        self._stack.setCurrentWidget(self._placeholder)

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
        self._path = path
        self._name.setText(pure.name or path)
        self._folder.setText(str(pure.parent) if pure.name else "")
        for button in (self._open, self._reveal):
            button.setEnabled(True)
        if text != self._text:  # another passage of the same file keeps its layout
            # QTextDocument turns "\r\n" into one block break; a space keeps offsets aligned.
            self._editor.setPlainText(text.replace("\r", " "))
            self._text = text
        self._stack.setCurrentWidget(self._editor)

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
