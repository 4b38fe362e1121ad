"""Icons drawn from the SVGs in resources/icons, tinted to follow the theme, sharp at any scale."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

ICONS_DIR = Path(__file__).resolve().parent.parent / "resources" / "icons"
APP_ICON_NAME = "dowse"
# Window managers and taskbars ask for a handful of fixed sizes; the app icon carries them all.
_APP_ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256)


def icon_names() -> list[str]:
    """Every icon shipped in resources/icons, by name (the file name without `.svg`)."""
    return sorted(path.stem for path in ICONS_DIR.glob("*.svg"))


@cache
def _svg_source(name: str) -> str:
    path = ICONS_DIR / f"{name}.svg"
    if not path.is_file():
        raise FileNotFoundError(f"no icon named {name!r} in {ICONS_DIR}")
    return path.read_text(encoding="utf-8")


@cache
def _renderer(name: str, color: str | None) -> QSvgRenderer:
    source = _svg_source(name)
    if color is not None:
        source = source.replace("currentColor", color)
    return QSvgRenderer(QByteArray(source.encode("utf-8")))


def _tint(color: QColor | None, mode: QIcon.Mode) -> str:
    """The colour that stands in for `currentColor`: the given one, or the palette's text."""
    palette = QGuiApplication.palette()
    if mode == QIcon.Mode.Disabled:
        chosen = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    elif mode == QIcon.Mode.Selected:
        chosen = palette.color(QPalette.ColorRole.HighlightedText)
    else:
        chosen = color if color is not None else palette.color(QPalette.ColorRole.WindowText)
    return chosen.name(QColor.NameFormat.HexRgb)


class _SvgIconEngine(QIconEngine):
    """Renders the SVG at exactly the pixel size asked for, so icons never scale a bitmap.

    With no fixed colour the tint is read from the palette at paint time, so an icon already
    on screen follows a light/dark switch without being recreated.
    """

    def __init__(self, name: str, color: QColor | None) -> None:
        super().__init__()
        self._name = name
        self._color = QColor(color) if color is not None else None
        self._pixmaps: dict[tuple[int, int, int, str], QPixmap] = {}

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        _renderer(self._name, _tint(self._color, mode)).render(painter, QRectF(rect))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        tint = _tint(self._color, mode)
        key = (size.width(), size.height(), int(mode.value), tint)
        cached = self._pixmaps.get(key)
        if cached is None:
            cached = QPixmap(size)
            cached.fill(Qt.GlobalColor.transparent)
            painter = QPainter(cached)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            _renderer(self._name, tint).render(painter, QRectF(0, 0, size.width(), size.height()))
            painter.end()
            self._pixmaps[key] = cached
        return QPixmap(cached)

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        return size

    def clone(self) -> QIconEngine:
        return _SvgIconEngine(self._name, self._color)

    def key(self) -> str:
        return "dowse-svg"


@cache
def _icon(name: str, rgba: int | None) -> QIcon:
    _svg_source(name)  # fail here, with the icon's name, rather than paint nothing later
    color = QColor.fromRgba(rgba) if rgba is not None else None
    return QIcon(_SvgIconEngine(name, color))


def icon(name: str, color: QColor | None = None) -> QIcon:
    """The named UI icon in the palette's text colour (or `color`), cached per name and colour."""
    return _icon(name, color.rgba() if color is not None else None)


@cache
def app_icon() -> QIcon:
    """Dowse's own full-colour mark, pre-rendered at the sizes window managers ask for."""
    renderer = _renderer(APP_ICON_NAME, None)
    result = QIcon()
    for side in _APP_ICON_SIZES:
        pixmap = QPixmap(side, side)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, side, side))
        painter.end()
        result.addPixmap(pixmap)
    return result
