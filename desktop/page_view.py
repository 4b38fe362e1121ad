"""Shows a document page as the engine drew it, with the passage's regions marked, so a PDF
result can be checked against the page it came from."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

Region = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the page
MARGIN = 12  # grey around the page, as in a PDF viewer
REGION_PAD = 3  # px around each marked region, so the mark does not clip the glyphs
FILL_ALPHA, EDGE_ALPHA = 60, 190
MIN_ZOOM, MAX_ZOOM, ZOOM_STEP = 1.0, 4.0, 1.25  # 1.0: the page fits the pane's width


class _PageCanvas(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.regions: tuple[Region, ...] = ()

    def page_rect(self) -> QRectF:
        return QRectF(MARGIN, MARGIN, self.width() - 2 * MARGIN, self.height() - 2 * MARGIN)

    def region_rects(self) -> list[QRectF]:
        """The marked regions in this widget's pixels, padded a little."""
        page = self.page_rect()
        return [QRectF(page.x() + x0 * page.width(), page.y() + y0 * page.height(),
                       (x1 - x0) * page.width(), (y1 - y0) * page.height())
                .adjusted(-REGION_PAD, -REGION_PAD, REGION_PAD, REGION_PAD)
                for x0, y0, x1, y1 in self.regions]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802  # Qt's name
        if self.image.isNull():
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        page = self.page_rect()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 40))  # a soft edge, so a white page stands off
        painter.drawRect(page.translated(0, 2).adjusted(-1, -1, 1, 1))
        painter.drawImage(page, self.image)
        mark = self.palette().color(QPalette.ColorRole.Highlight)
        fill, edge = QColor(mark), QColor(mark)
        fill.setAlpha(FILL_ALPHA)
        edge.setAlpha(EDGE_ALPHA)
        painter.setPen(QPen(edge, 1.5))
        painter.setBrush(fill)
        for rect in self.region_rects():
            painter.drawRoundedRect(rect, 3, 3)
        painter.end()


class PageView(QScrollArea):
    """A page image fitted to the width, scrolled so the first marked region is in view;
    Ctrl+wheel or Ctrl+plus/minus zoom in and out, Ctrl+0 fits the width again."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # for the zoom keys
        self.setToolTip("Ctrl+wheel to zoom, Ctrl+0 to fit the width")
        self.setBackgroundRole(QPalette.ColorRole.Mid)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._canvas = _PageCanvas()
        self.setWidget(self._canvas)
        self._path = ""
        self._page = 0
        self._scroll_pending = False  # shown while hidden: scroll once it has a size
        self.zoom = MIN_ZOOM

    @property
    def canvas(self) -> _PageCanvas:
        return self._canvas

    @property
    def shown(self) -> tuple[str, int]:
        """(path, page) on view; ("", 0) when empty."""
        return self._path, self._page

    def clear(self) -> None:
        self._path, self._page = "", 0
        self._canvas.image = QImage()
        self._canvas.regions = ()
        self._canvas.update()

    def show_page(self, path: str, page: int, image: QImage,
                  regions: Sequence[Sequence[float]]) -> None:
        self._path, self._page = path, page
        self._canvas.image = image
        self._canvas.regions = tuple(
            (max(0.0, min(1.0, float(r[0]))), max(0.0, min(1.0, float(r[1]))),
             max(0.0, min(1.0, float(r[2]))), max(0.0, min(1.0, float(r[3]))))
            for r in regions if len(r) == 4)
        self._fit()
        if self.isVisible():
            self._scroll_to_regions()
        else:
            self._scroll_pending = True

    def wanted_width(self) -> int:
        """The width in device pixels to ask the engine for: sharp at this size, not bigger."""
        pixels = (self.viewport().width() - 2 * MARGIN) * self.devicePixelRatioF() * 1.5
        return int(max(800, min(1400, round(pixels / 100) * 100)))  # a little room to zoom

    def set_zoom(self, zoom: float) -> None:
        """Zoom about the middle of what is in view."""
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        if abs(zoom - self.zoom) < 1e-3:
            return
        bars = (self.horizontalScrollBar(), self.verticalScrollBar())
        sizes = (self.viewport().width(), self.viewport().height())
        old = (max(1, self._canvas.width()), max(1, self._canvas.height()))
        middle = [(bar.value() + size / 2) / extent for bar, size, extent in zip(
            bars, sizes, old, strict=True)]
        self.zoom = zoom
        self._fit()
        new = (self._canvas.width(), self._canvas.height())
        for bar, size, extent, at in zip(bars, sizes, new, middle, strict=True):
            bar.setValue(round(at * extent - size / 2))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802  # Qt's name
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            self.set_zoom(self.zoom * ZOOM_STEP ** steps)
            event.accept()
        else:
            super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802  # Qt's name
        if event.matches(QKeySequence.StandardKey.ZoomIn) or (
                event.modifiers() & Qt.KeyboardModifier.ControlModifier
                and event.key() == Qt.Key.Key_Equal):
            self.set_zoom(self.zoom * ZOOM_STEP)
        elif event.matches(QKeySequence.StandardKey.ZoomOut):
            self.set_zoom(self.zoom / ZOOM_STEP)
        elif (event.modifiers() & Qt.KeyboardModifier.ControlModifier
              and event.key() == Qt.Key.Key_0):
            self.set_zoom(MIN_ZOOM)
        else:
            super().keyPressEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802  # Qt's name
        return QSize(420, 560)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802  # Qt's name
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802  # Qt's name
        super().showEvent(event)
        if self._scroll_pending:
            self._scroll_pending = False
            self._fit()
            self._scroll_to_regions()

    def _fit(self) -> None:
        image = self._canvas.image
        width = max(1, self.viewport().width())
        if image.isNull() or image.width() <= 0:
            self._canvas.resize(width, 1)
            return
        page_w = round((width - 2 * MARGIN) * self.zoom)
        page_h = round(page_w * image.height() / image.width())
        self._canvas.resize(page_w + 2 * MARGIN, page_h + 2 * MARGIN)
        self._canvas.update()

    def _scroll_to_regions(self) -> None:
        rects = self._canvas.region_rects()
        bar = self.verticalScrollBar()
        if not rects:
            bar.setValue(0)
            return
        top = min(r.top() for r in rects)
        bottom = max(r.bottom() for r in rects)
        room = self.viewport().height()
        # A passage that fits sits a third of the way down; a taller one shows from its top.
        target = top - (room - (bottom - top)) / 3 if bottom - top < room else top - MARGIN
        bar.setValue(int(max(0, min(bar.maximum(), target))))
        left = min(r.left() for r in rects)
        self.horizontalScrollBar().setValue(int(max(0, left - MARGIN)))
