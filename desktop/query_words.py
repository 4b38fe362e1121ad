"""Shows which words of the query carried the match, and lets the user point at one word to
see the passage words it paired with."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QEnterEvent, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

MIN_ALPHA, MAX_ALPHA = 25, 175
CHIP_PAD_X, CHIP_PAD_Y = 8, 3


class _Chip(QWidget):
    """One query word; its background is as strong as the word's share of the match."""

    entered = Signal(object)
    left = Signal(object)
    clicked = Signal(object)

    def __init__(self, word: str, span: tuple[int, int], strength: float, parent: QWidget) -> None:
        super().__init__(parent)
        self.word, self.span, self.strength = word, span, strength
        self.pinned = False
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"Show what “{word}” matched; click to keep it")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(fm.horizontalAdvance(self.word) + 2 * CHIP_PAD_X,
                     fm.height() + 2 * CHIP_PAD_Y)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        fill = pal.color(QPalette.ColorRole.Highlight)
        fill.setAlpha(round(MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * self.strength))
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(pal.color(QPalette.ColorRole.Highlight) if self.pinned
                       else Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.word)

    def enterEvent(self, event: QEnterEvent) -> None:
        self.entered.emit(self)

    def leaveEvent(self, event: QEvent) -> None:
        self.left.emit(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self)


class QueryWordsBar(QWidget):
    """The query's words as chips; `word_hovered(start, end)` while one is pointed at or pinned,
    `word_left()` when none is."""

    word_hovered = Signal(int, int)
    word_left = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._chips: list[_Chip] = []
        self._hovered: _Chip | None = None
        self._pinned: _Chip | None = None
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self._label = QLabel("Matched on:", self)
        self._label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._layout.addWidget(self._label)
        self._layout.addStretch(1)
        self.setVisible(False)

    @property
    def chips(self) -> list[_Chip]:
        return list(self._chips)

    @property
    def focused_span(self) -> tuple[int, int] | None:
        chip = self._hovered or self._pinned
        return chip.span if chip else None

    def set_query(self, query: str, spans: list[tuple[int, int, float]]) -> None:
        before = self.focused_span
        for chip in self._chips:
            self._layout.removeWidget(chip)
            chip.hide()
            chip.deleteLater()
        self._chips, self._hovered, self._pinned = [], None, None
        words = [(s, e, w) for s, e, w in spans if 0 <= s < e <= len(query)]
        top = max((w for _, _, w in words), default=0.0)
        for s, e, w in sorted(words):
            strength = max(0.0, w) / top if top > 0 else 0.0
            chip = _Chip(query[s:e], (s, e), strength, self)
            chip.entered.connect(self._on_chip_entered)
            chip.left.connect(self._on_chip_left)
            chip.clicked.connect(self._on_chip_clicked)
            self._layout.insertWidget(self._layout.count() - 1, chip)
            self._chips.append(chip)
        self.setVisible(bool(query.strip()) and bool(self._chips))
        self._emit_if_changed(before)

    def clear_focus(self) -> None:
        """Drop the hovered and pinned word, as when the results change under them."""
        before = self.focused_span
        if self._pinned:
            self._pinned.pinned = False
            self._pinned.update()
        self._hovered = self._pinned = None
        self._emit_if_changed(before)

    def _on_chip_entered(self, chip: _Chip) -> None:
        before = self.focused_span
        self._hovered = chip
        self._emit_if_changed(before)

    def _on_chip_left(self, chip: _Chip) -> None:
        before = self.focused_span
        if self._hovered is chip:
            self._hovered = None
        self._emit_if_changed(before)  # back to the pinned word, if any

    def _on_chip_clicked(self, chip: _Chip) -> None:
        before = self.focused_span
        if self._pinned:
            self._pinned.pinned = False
            self._pinned.update()
        self._pinned = None if self._pinned is chip else chip
        if self._pinned:
            self._pinned.pinned = True
        chip.update()
        self._emit_if_changed(before)

    def _emit_if_changed(self, before: tuple[int, int] | None) -> None:
        after = self.focused_span
        if after == before:
            return
        if after is None:
            self.word_left.emit()
        else:
            self.word_hovered.emit(*after)
