"""File-type icons for results: the desktop's icon theme by MIME type, as a file manager shows
them, and a drawn page with the type's name on it where the theme has none."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path, PurePath

from PySide6.QtCore import QMimeDatabase, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap

# Tried in turn when no desktop session names a theme (a bare X session, offscreen tests):
# the first one installed supplies the icons, as it would under that desktop.
FALLBACK_THEMES = ("breeze", "Adwaita", "Papirus", "Yaru", "elementary", "hicolor")
_BADGE_COLORS = (  # MIME name fragment -> the drawn icon's band colour
    ("pdf", "#d64541"), ("wordprocessing", "#2b6cb0"), ("msword", "#2b6cb0"),
    ("opendocument.text", "#2b6cb0"), ("rtf", "#2b6cb0"), ("presentation", "#dd6b20"),
    ("spreadsheet", "#2f855a"), ("csv", "#2f855a"), ("epub", "#319795"), ("html", "#805ad5"),
    ("xml", "#805ad5"), ("markdown", "#4a5568"), ("x-python", "#3b6ea5"), ("json", "#805ad5"),
)
_DEFAULT_BADGE = "#718096"


def file_icon(name: str) -> QIcon:
    """The icon for a file called `name`, by its suffix only: painting never touches the disk."""
    return _icon_for_suffix(PurePath(name).suffix.lower())


def file_pixmap(name: str, side: int, dpr: float = 1.0) -> QPixmap:
    return file_icon(name).pixmap(QSize(side, side), dpr)


def mime_name(name: str) -> str:
    return _mime_for_suffix(PurePath(name).suffix.lower())[0]


@cache
def _mime_for_suffix(suffix: str) -> tuple[str, str, str]:
    """(MIME name, theme icon name, generic theme icon name) for a file suffix."""
    mime = QMimeDatabase().mimeTypeForFile("x" + suffix, QMimeDatabase.MatchMode.MatchExtension)
    return mime.name(), mime.iconName(), mime.genericIconName()


@cache
def _icon_for_suffix(suffix: str) -> QIcon:
    prepare_icon_theme()
    mime, specific, generic = _mime_for_suffix(suffix)
    for icon_name in (specific, generic):
        icon = themed_icon(icon_name)
        if not icon.isNull():
            return icon
    return drawn_icon(suffix.lstrip(".")[:4].upper() or "FILE", badge_color(mime))


def themed_icon(icon_name: str) -> QIcon:
    """The theme's icon of that name, or a null icon; tests replace this to see the fallback."""
    return QIcon.fromTheme(icon_name) if icon_name else QIcon()


@cache
def prepare_icon_theme() -> None:
    """Where no desktop session names an icon theme, look in the XDG icon folders and use the
    first known theme installed, so results still get the icons the system has."""
    if QIcon.themeName():
        return
    data_dirs = [os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")]
    data_dirs += (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    found = [str(Path(d) / "icons") for d in data_dirs if d and (Path(d) / "icons").is_dir()]
    paths = list(QIcon.themeSearchPaths())
    QIcon.setThemeSearchPaths(paths + [p for p in found if p not in paths])
    for theme in FALLBACK_THEMES:
        if any((Path(p) / theme / "index.theme").is_file() for p in found):
            QIcon.setFallbackThemeName(theme)
            return


def badge_color(mime: str) -> QColor:
    for fragment, color in _BADGE_COLORS:
        if fragment in mime:
            return QColor(color)
    return QColor(_DEFAULT_BADGE)


def drawn_icon(label: str, color: QColor) -> QIcon:
    """A page with a folded corner and a coloured band naming the type (PDF, DOCX, MD...)."""
    icon = QIcon()
    for side in (16, 24, 32, 48, 64, 96):
        icon.addPixmap(_draw_page(side, label, color))
    return icon


def _draw_page(side: int, label: str, color: QColor) -> QPixmap:
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = side / 32
    left, top, right, bottom, fold = 6 * unit, 2 * unit, 26 * unit, 30 * unit, 7 * unit
    page = QPainterPath(QPointF(left, top))
    page.lineTo(right - fold, top)
    page.lineTo(right, top + fold)
    page.lineTo(right, bottom)
    page.lineTo(left, bottom)
    page.closeSubpath()
    painter.setPen(QPen(QColor(0, 0, 0, 70), max(1.0, unit)))
    painter.setBrush(QColor("#fbfbfa"))
    painter.drawPath(page)
    corner = QPainterPath(QPointF(right - fold, top))
    corner.lineTo(right - fold, top + fold)
    corner.lineTo(right, top + fold)
    corner.closeSubpath()
    painter.setBrush(QColor("#dcdcd8"))
    painter.drawPath(corner)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 38))
    for i in range(3):  # a hint of text lines above the band
        painter.drawRect(QRectF(left + 3 * unit, top + (10 + 3 * i) * unit, 12 * unit, unit))
    band = QRectF(left - 2 * unit, 19 * unit, right - left + 4 * unit, 8 * unit)
    painter.setBrush(color)
    painter.drawRoundedRect(band, 1.5 * unit, 1.5 * unit)
    if side >= 24:
        font = QFont()
        font.setBold(True)
        font.setPixelSize(max(6, round((5.5 if len(label) > 3 else 6.5) * unit)))
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(band, Qt.AlignmentFlag.AlignCenter, label)
    painter.end()
    return pixmap
