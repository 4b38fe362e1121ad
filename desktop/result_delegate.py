"""Paints a search result as a launcher-style card, with the passage words that made it match
highlighted, so the user sees why each file was found without opening it."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from PySide6.QtCore import (
    QDateTime,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPalette,
    QPixmap,
    QTextLayout,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from desktop.file_icons import file_pixmap
from desktop.passage_layout import Passage, lay_out_passage
from desktop.results_model import ResultRole

AnyIndex = QModelIndex | QPersistentModelIndex

MAX_PASSAGE_LINES = 4
PAD, ICON, GAP, LINE_GAP = 10, 32, 10, 3
SCORE_W, SCORE_H = 44, 4
MIN_ALPHA, MAX_ALPHA = 45, 170
# Spans under this share of the row's strongest are not painted: mean pooling gives every word
# some share (even "the"), and lighting them all hides the few that carried the match.
MIN_SHARE = 0.35
DIM_ALPHA = 0.45  # text not paired with the focused query word
# Amber underlines stay distinct from the (usually blue) highlight in light and dark themes.
KEYWORD_COLOR = QColor(232, 145, 45)
LAYOUT_CACHE_SIZE = 512
DIVIDER_LABEL = "Weaker matches"
DIVIDER_PAD = 8  # above and below the divider's label


@dataclass(frozen=True)
class _Fonts:
    text: QFont
    name: QFont
    small: QFont
    fm_text: QFontMetricsF
    fm_name: QFontMetricsF
    fm_small: QFontMetricsF


class ResultDelegate(QStyledItemDelegate):
    """Row painter for `ResultsModel`; `changed` fires when rows must be repainted."""

    changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._focus: tuple[int, int] | None = None
        self._passages: OrderedDict[tuple[str, int, str], Passage] = OrderedDict()
        self._fonts: dict[str, _Fonts] = {}
        self._icons: dict[tuple[str, float], QPixmap] = {}
        self._locale = QLocale()

    def attach(self, view: QListView) -> None:
        """Install on `view` with the settings variable-height, word-wrapped rows need."""
        view.setItemDelegate(self)
        view.setUniformItemSizes(False)
        view.setResizeMode(QListView.ResizeMode.Adjust)  # re-wrap rows when the width changes
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.changed.connect(view.viewport().update)

    @property
    def focus_query_span(self) -> tuple[int, int] | None:
        return self._focus

    def set_focus_query_span(self, span: tuple[int, int] | None) -> None:
        span = None if span is None else (int(span[0]), int(span[1]))
        if span != self._focus:
            self._focus = span
            self.changed.emit()

    def highlight_ranges(self, index: AnyIndex) -> list[tuple[int, int, int]]:
        """(start, end, alpha 0..255) over the row's text: its attribution, or, while a query
        word is focused, the passage words paired with it."""
        if self._focus is None:
            spans = [(s, e, w) for s, e, w in index.data(ResultRole.PassageSpans) or [] if w > 0]
        else:
            q0, q1 = self._focus
            weights: dict[tuple[int, int], float] = {}
            for a, b, s, e, w in index.data(ResultRole.Pairs) or []:
                if w > 0 and a < q1 and q0 < b:  # pairs of the focused query word
                    weights[(s, e)] = weights.get((s, e), 0.0) + w
            spans = [(s, e, w) for (s, e), w in weights.items()]
        top = max((w for _, _, w in spans), default=0.0)
        return [(s, e, round(MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * (w / top) ** 1.5))
                for s, e, w in sorted(spans) if w >= MIN_SHARE * top]

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        width = _row_width(option)
        return QSize(width, math.ceil(self._row_height(option, index, width)))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        if index.data(ResultRole.WeakerStart):  # the line, then the row below it
            band = self._divider_height(self._fonts_for(option.font))
            self._paint_divider(painter, option, QRect(option.rect.x(), option.rect.y(),
                                                       option.rect.width(), band))
            option = QStyleOptionViewItem(option)
            option.rect = option.rect.adjusted(0, band, 0, 0)
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        group = (QPalette.ColorGroup.Active if option.state & QStyle.StateFlag.State_Active
                 else QPalette.ColorGroup.Inactive)
        pal = option.palette
        ink = pal.color(group, QPalette.ColorRole.HighlightedText if selected
                        else QPalette.ColorRole.Text)
        muted = QColor(ink)
        muted.setAlphaF(0.62)
        # On a selected row the selection already is the highlight colour, so marks use the ink.
        mark = QColor(ink) if selected else pal.color(group, QPalette.ColorRole.Highlight)

        fonts = self._fonts_for(option.font)
        rect = option.rect  # below the divider, if the row has one
        x, y = rect.x() + PAD, rect.y() + PAD
        name = index.data(ResultRole.Name) or ""
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        painter.drawPixmap(QRect(x, y, ICON, ICON), self._icon_pixmap(name, dpr))
        x += ICON + GAP
        width = max(1, rect.right() + 1 - PAD - x)

        # Name, then the score bar at the right end of the same line.
        name_h = fonts.fm_name.height()
        painter.setFont(fonts.name)
        painter.setPen(ink)
        shown = fonts.fm_name.elidedText(name, Qt.TextElideMode.ElideMiddle, width - SCORE_W - GAP)
        painter.drawText(QRectF(x, y, width - SCORE_W - GAP, name_h),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
        bar = QRectF(x + width - SCORE_W, y + (name_h - SCORE_H) / 2, SCORE_W, SCORE_H)
        track = QColor(ink)
        track.setAlphaF(0.15)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track)
        painter.drawRoundedRect(bar, SCORE_H / 2, SCORE_H / 2)
        fraction = float(index.data(ResultRole.ScoreFraction) or 0.0)
        if fraction > 0:
            painter.setBrush(mark)
            painter.drawRoundedRect(QRectF(bar.x(), bar.y(), max(SCORE_H, SCORE_W * fraction),
                                           SCORE_H), SCORE_H / 2, SCORE_H / 2)
        y += name_h + LINE_GAP

        painter.setFont(fonts.small)
        painter.setPen(muted)
        small_h = fonts.fm_small.height()
        painter.drawText(QRectF(x, y, width, small_h),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self._meta_line(index, fonts.fm_small, width))
        y += small_h + GAP / 2

        text = index.data(ResultRole.Text) or ""
        if text:
            passage = self._passage(text, width, fonts)
            self._paint_passage(painter, passage, index, QPointF(x, y), ink, mark)
            y += passage.height
        painter.setFont(fonts.small)
        painter.setPen(muted)
        for line in self._footer_lines(index):
            y += LINE_GAP
            painter.drawText(QRectF(x, y, width, small_h),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             fonts.fm_small.elidedText(line, Qt.TextElideMode.ElideRight, width))
            y += small_h
        painter.restore()

    def _divider_height(self, fonts: _Fonts) -> int:
        return math.ceil(fonts.fm_small.height()) + 2 * DIVIDER_PAD

    def _paint_divider(self, painter: QPainter, option: QStyleOptionViewItem, band: QRect) -> None:
        """"Weaker matches" between two rules: where the engine's confident matches end."""
        fonts = self._fonts_for(option.font)
        muted = QColor(option.palette.color(QPalette.ColorRole.Text))
        muted.setAlphaF(0.55)
        label_w = fonts.fm_small.horizontalAdvance(DIVIDER_LABEL)
        mid_y = band.y() + band.height() / 2
        label_x = band.x() + PAD + ICON + GAP
        painter.setFont(fonts.small)
        painter.setPen(muted)
        painter.drawText(QRectF(label_x, band.y(), label_w + 2, band.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         DIVIDER_LABEL)
        rule = QColor(muted)
        rule.setAlphaF(0.25)
        painter.fillRect(QRectF(band.x() + PAD, mid_y, ICON + GAP - 6, 1), rule)
        right = band.right() + 1 - PAD
        painter.fillRect(QRectF(label_x + label_w + 8, mid_y, right - label_x - label_w - 8, 1),
                         rule)

    def _paint_passage(self, painter: QPainter, passage: Passage, index: AnyIndex,
                       origin: QPointF, ink: QColor, mark: QColor) -> None:
        layout, to_flat = passage.layout, passage.to_flat
        ranges = [(to_flat[s], min(to_flat[e], passage.visible), alpha)
                  for s, e, alpha in self.highlight_ranges(index)
                  if to_flat[s] < passage.visible]
        painter.setPen(Qt.PenStyle.NoPen)
        for start, end, alpha in ranges:
            color = QColor(mark)
            color.setAlpha(alpha)
            painter.setBrush(color)
            for rect in passage.rects(start, end):
                painter.drawRoundedRect(rect.translated(origin).adjusted(-1, 0, 1, 0), 3, 3)
        selections = []
        if self._focus is not None:
            dim = QColor(ink)
            dim.setAlphaF(DIM_ALPHA)
            painter.setPen(dim)
            for start, end, _ in ranges:  # the paired words keep full ink
                fmt = QTextLayout.FormatRange()
                fmt.start, fmt.length = start, end - start
                fmt.format.setForeground(ink)
                selections.append(fmt)
        else:
            painter.setPen(ink)
        layout.draw(painter, origin, selections)
        painter.setPen(QColor(KEYWORD_COLOR))
        for s, e in index.data(ResultRole.KeywordSpans) or []:
            for rect in passage.rects(to_flat[s], min(to_flat[e], passage.visible)):
                line = rect.translated(origin)
                base = line.bottom() - 1.5
                painter.fillRect(QRectF(line.left(), base, line.width(), 2), KEYWORD_COLOR)

    def _row_height(self, option: QStyleOptionViewItem, index: AnyIndex, width: int) -> float:
        fonts = self._fonts_for(option.font)
        content_w = max(1, width - 2 * PAD - ICON - GAP)
        height = PAD + fonts.fm_name.height() + LINE_GAP + fonts.fm_small.height() + GAP / 2
        text = index.data(ResultRole.Text) or ""
        if text:
            height += self._passage(text, content_w, fonts).height
        height += len(self._footer_lines(index)) * (LINE_GAP + fonts.fm_small.height())
        divider = self._divider_height(fonts) if index.data(ResultRole.WeakerStart) else 0
        return max(height + PAD, PAD + ICON + PAD) + divider

    def _meta_line(self, index: AnyIndex, fm: QFontMetricsF, width: int) -> str:
        parts = []
        page = index.data(ResultRole.Page)
        if page is not None:
            parts.append(f"p. {page}")
        heading = index.data(ResultRole.Heading)
        if heading:
            parts.append(heading)
        modified = index.data(ResultRole.Modified)
        if isinstance(modified, QDateTime) and modified.isValid():
            parts.append(self._locale.toString(modified.date(), "d MMM yyyy"))
        elif isinstance(modified, str) and modified:
            parts.append(modified)
        tail = "".join(f"  ·  {part}" for part in parts)
        folder = index.data(ResultRole.Folder) or ""
        # The folder gives way first: its middle goes before the page or date is cut.
        room = width - fm.horizontalAdvance(tail)
        folder = fm.elidedText(folder, Qt.TextElideMode.ElideMiddle, max(0.0, room))
        line = folder + tail if folder else tail.removeprefix("  ·  ")
        return fm.elidedText(line, Qt.TextElideMode.ElideRight, width)

    @staticmethod
    def _footer_lines(index: AnyIndex) -> list[str]:
        lines = []
        if reason := index.data(ResultRole.Reason):
            lines.append(reason)
        if copies := index.data(ResultRole.AlsoIn):
            count = len(copies)
            names = ", ".join(str(c.get("name", "")) for c in copies)
            lines.append(f"Also in {count} other file{'s' if count > 1 else ''}: {names}")
        more = index.data(ResultRole.More) or []
        if more and index.data(ResultRole.Expanded):
            for passage in more:
                page = passage.get("page")
                where = f"p. {page}  " if page is not None else ""
                lines.append(f"↳ {where}{' '.join(str(passage.get('text', '')).split())}")
            lines.append("− fold these away (←)")
        elif more:
            count = len(more)
            lines.append(f"+ {count} more passage{'s' if count > 1 else ''} in this file (→)")
        return lines

    def _fonts_for(self, base: QFont) -> _Fonts:
        key = base.key()
        if key not in self._fonts:
            base = QFont(base)  # a copy: the option's font dies with the option
            name = QFont(base)
            name.setBold(True)
            small = QFont(base)
            if base.pointSizeF() > 0:
                small.setPointSizeF(base.pointSizeF() * 0.88)
            else:
                small.setPixelSize(max(1, round(base.pixelSize() * 0.88)))
            self._fonts[key] = _Fonts(base, name, small, QFontMetricsF(base),
                                      QFontMetricsF(name), QFontMetricsF(small))
        return self._fonts[key]

    def _passage(self, text: str, width: int, fonts: _Fonts) -> Passage:
        key = (text, width, fonts.text.key())
        passage = self._passages.get(key)
        if passage is None:
            passage = lay_out_passage(text, width, fonts.text, fonts.fm_text, MAX_PASSAGE_LINES)
            self._passages[key] = passage
            if len(self._passages) > LAYOUT_CACHE_SIZE:
                self._passages.popitem(last=False)
        else:
            self._passages.move_to_end(key)
        return passage

    def _icon_pixmap(self, name: str, dpr: float) -> QPixmap:
        key = (PurePath(name).suffix.lower(), dpr)
        if key not in self._icons:  # by suffix only: painting never costs a disk access
            self._icons[key] = file_pixmap(name, ICON, dpr)
        return self._icons[key]


def _row_width(option: QStyleOptionViewItem) -> int:
    if option.rect.width() > 0:
        return option.rect.width()
    view = option.widget
    if isinstance(view, QAbstractItemView):
        return view.viewport().width()
    return 480
