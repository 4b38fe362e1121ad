"""Word-wraps a result's passage for painting and maps its character offsets to layout
positions, so the engine's spans land on the right glyphs."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QTextLayout, QTextOption


@dataclass(frozen=True)
class Passage:
    """A word-wrapped passage at one width; `to_flat` maps a text offset to a layout position."""

    layout: QTextLayout
    to_flat: list[int]
    visible: int  # layout positions before this are the passage's own text (then maybe "…")
    height: float
    line_starts: list[int]  # layout position where each wrapped line begins

    def rects(self, start: int, end: int) -> list[QRectF]:
        """One rectangle per wrapped line that [start, end) (layout positions) covers."""
        rects = []
        i = max(0, bisect_right(self.line_starts, start) - 1)
        while i < len(self.line_starts) and self.line_starts[i] < end:
            line = self.layout.lineAt(i)
            s = max(start, line.textStart())
            e = min(end, line.textStart() + line.textLength())
            if s < e:
                x0, _ = line.cursorToX(s)
                x1, _ = line.cursorToX(e)
                rects.append(QRectF(min(x0, x1), line.y(), abs(x1 - x0), line.height()))
            i += 1
        return rects


def _display_text(text: str) -> tuple[str, list[int]]:
    """The passage on one paragraph, whitespace runs folded to one space; and for each offset in
    `text` (plus its end) the matching QTextLayout position, which counts UTF-16 units."""
    out: list[str] = []
    to_flat: list[int] = []
    pos, after_space = 0, True  # True: leading whitespace is dropped
    for ch in text:
        to_flat.append(pos)
        if ch.isspace():
            if after_space:
                continue
            ch, after_space = " ", True
        else:
            after_space = False
        out.append(ch)
        pos += 2 if ord(ch) > 0xFFFF else 1
    to_flat.append(pos)
    return "".join(out), to_flat


def _utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _utf16_prefix(text: str, units: int) -> str:
    return text[:units] if text.isascii() else text.encode("utf-16-le")[: 2 * units].decode(
        "utf-16-le")


def _wrap(text: str, font: QFont, width: int, max_lines: int) -> QTextLayout:
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.setCacheEnabled(True)
    layout.beginLayout()
    y = 0.0
    for _ in range(max_lines):
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0, y))
        y += line.height()
    layout.endLayout()
    return layout


def lay_out_passage(text: str, width: int, font: QFont, metrics: QFontMetricsF,
                    max_lines: int) -> Passage:
    """`text` on one paragraph, wrapped to `width` in at most `max_lines` lines, the last ending
    with "…" when the text does not fit."""
    flat, to_flat = _display_text(text)
    layout = _wrap(flat, font, width, max_lines)
    total, visible = _utf16_len(flat), _utf16_len(flat)
    if layout.lineCount():
        last = layout.lineAt(layout.lineCount() - 1)
        if last.textStart() + last.textLength() < total:  # more than fits: end with "…"
            head = _utf16_prefix(flat, last.textStart())
            tail = flat[len(head):]
            shown = metrics.elidedText(tail, Qt.TextElideMode.ElideRight, width)
            visible = _utf16_len(head) + _utf16_len(shown.removesuffix("…"))
            layout = _wrap(head + shown, font, width, max_lines)
    lines = [layout.lineAt(i) for i in range(layout.lineCount())]
    height = sum(line.height() for line in lines)
    return Passage(layout, to_flat, visible, height, [line.textStart() for line in lines])
