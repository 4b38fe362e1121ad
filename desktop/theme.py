"""One calm look for the whole app: Fusion with a light and a dark palette that follow the system.

Widgets opt into the shared stylesheet by object name or dynamic property rather than carrying
their own styles:

- `QLineEdit#searchField`: the big rounded search box;
- `[chip="true"]` on a QLabel or a checkable QPushButton/QToolButton: a pill, filled when checked;
- `QFrame[banner="info" | "warning" | "error"]` (QLabel is a QFrame): a tinted message strip;
  `QFrame#banner` is drawn as a warning;
- `QFrame[panel="true"]`: a rounded card on the base colour;
- `QLabel[muted="true"]` and `QLabel#emptyState`: secondary text.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

MODES = ("system", "light", "dark")
_MODE_PROPERTY = "dowseThemeMode"
_FOLLOWING_PROPERTY = "dowseThemeFollowsSystem"

# Neutral greys with a single teal accent. Selection text on the accent is white in both
# schemes, so the accent is dark enough (teal-700) to keep a 5:1 contrast under it. In the dark
# scheme fields and lists are lighter than the window, not darker: Fusion outlines controls
# with a darkened window colour, which would vanish against a darker base.
_ACCENT = "#0f766e"
_LIGHT = {
    "window": "#f5f6f8", "text": "#1f2328", "base": "#ffffff", "alternate": "#f0f2f5",
    "button": "#fafbfc", "muted": "#5f6670", "disabled": "#9aa0a6", "light": "#ffffff",
    "midlight": "#eceef1", "mid": "#cfd3d9", "dark": "#a0a6ae", "shadow": "#6b7280",
    "link": "#0f766e", "tooltip": "#1f2328", "tooltip_text": "#f5f6f8",
}
_DARK = {
    "window": "#1c1d20", "text": "#e7e8ea", "base": "#26282c", "alternate": "#2b2d31",
    "button": "#313338", "muted": "#a2a8b0", "disabled": "#6b7078", "light": "#3e4147",
    "midlight": "#35373c", "mid": "#4a4d54", "dark": "#121314", "shadow": "#0a0a0b",
    "link": "#2dd4bf", "tooltip": "#e7e8ea", "tooltip_text": "#1f2023",
}
# Status colours (badges, banners) tuned per scheme so they read on the window colour.
_SEMANTIC = {
    False: {"success": "#15803d", "warning": "#b45309", "danger": "#c0262d", "muted": "#5f6670"},
    True: {"success": "#4ade80", "warning": "#fbbf24", "danger": "#f87171", "muted": "#a2a8b0"},
}


def make_palette(dark: bool) -> QPalette:
    """The full Fusion palette for the light or the dark scheme."""
    c = {key: QColor(value) for key, value in (_DARK if dark else _LIGHT).items()}
    role = QPalette.ColorRole
    palette = QPalette()
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive,
                  QPalette.ColorGroup.Disabled):
        palette.setColor(group, role.Window, c["window"])
        palette.setColor(group, role.WindowText, c["text"])
        palette.setColor(group, role.Base, c["base"])
        palette.setColor(group, role.AlternateBase, c["alternate"])
        palette.setColor(group, role.Text, c["text"])
        palette.setColor(group, role.Button, c["button"])
        palette.setColor(group, role.ButtonText, c["text"])
        palette.setColor(group, role.BrightText, QColor("#ffffff"))
        palette.setColor(group, role.Light, c["light"])
        palette.setColor(group, role.Midlight, c["midlight"])
        palette.setColor(group, role.Mid, c["mid"])
        palette.setColor(group, role.Dark, c["dark"])
        palette.setColor(group, role.Shadow, c["shadow"])
        palette.setColor(group, role.Highlight, QColor(_ACCENT))
        palette.setColor(group, role.HighlightedText, QColor("#ffffff"))
        palette.setColor(group, role.Link, c["link"])
        palette.setColor(group, role.LinkVisited, c["link"])
        palette.setColor(group, role.ToolTipBase, c["tooltip"])
        palette.setColor(group, role.ToolTipText, c["tooltip_text"])
        palette.setColor(group, role.PlaceholderText, c["muted"])
        palette.setColor(group, role.Accent, QColor(_ACCENT))
    for disabled_role in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, disabled_role, c["disabled"])
    return palette


def _luminance(color: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF())
            + 0.0722 * channel(color.blueF()))


def contrast_ratio(first: QColor, second: QColor) -> float:
    """The WCAG 2 contrast ratio between two colours, from 1 (none) to 21 (black on white)."""
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def is_dark(palette: QPalette) -> bool:
    """Whether text is lighter than the window behind it, whoever chose the palette."""
    return _luminance(palette.color(QPalette.ColorRole.WindowText)) > _luminance(
        palette.color(QPalette.ColorRole.Window)
    )


def accent_color(palette: QPalette) -> QColor:
    """The one accent colour: selection, focus and checked chips."""
    return palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight)


def semantic_color(palette: QPalette, kind: str) -> QColor:
    """A status colour that reads on this palette: success, warning, danger or muted."""
    return QColor(_SEMANTIC[is_dark(palette)][kind])


def _blend(over: QColor, under: QColor, amount: float) -> str:
    mixed = QColor.fromRgbF(
        over.redF() * amount + under.redF() * (1 - amount),
        over.greenF() * amount + under.greenF() * (1 - amount),
        over.blueF() * amount + under.blueF() * (1 - amount),
    )
    return mixed.name()


def stylesheet(palette: QPalette, line_height: int | None = None) -> str:
    """The small app-wide stylesheet, coloured from `palette` and sized from the font's height.

    Sizes are worked out in px from the font rather than written in em: a pill needs a radius
    of exactly half its outer height (text, padding and border), which em cannot express.
    """
    line = line_height or QFontMetrics(QApplication.font()).height()
    role = QPalette.ColorRole
    base, window = palette.color(role.Base), palette.color(role.Window)
    text, mid = palette.color(role.Text), palette.color(role.Mid)
    accent = accent_color(palette)
    muted = palette.color(role.PlaceholderText).name()
    chip = _blend(text, window, 0.08)
    chip_hover = _blend(text, window, 0.14)
    banners = {"info": palette.color(role.Link), "warning": semantic_color(palette, "warning"),
               "error": semantic_color(palette, "danger")}
    field_pad, chip_pad = round(line * 0.4), round(line * 0.15)
    # Half the outer height (text, padding and a 2 px focus border) makes a full pill.
    field_radius = (line + 2 * field_pad + 4) // 2
    chip_radius = (line + 2 * chip_pad) // 2
    card_radius, pad = round(line * 0.5), round(line * 0.5)
    rules = [
        f"""QLineEdit#searchField {{
            background: {base.name()}; border: 1px solid {mid.name()};
            border-radius: {field_radius}px; padding: {field_pad}px {line}px; }}""",
        f"""QLineEdit#searchField:focus {{ border: 2px solid {accent.name()};
            padding: {field_pad - 1}px {line - 1}px; }}""",
        f"""QLabel[chip="true"], QPushButton[chip="true"], QToolButton[chip="true"] {{
            background: {chip}; border: none; border-radius: {chip_radius}px;
            padding: {chip_pad}px {round(line * 0.7)}px; }}""",
        # A label in a row of buttons would otherwise stretch to the row and lose its pill shape.
        f'QLabel[chip="true"] {{ max-height: {line}px; }}',
        f"""QPushButton[chip="true"]:hover, QToolButton[chip="true"]:hover {{
            background: {chip_hover}; }}""",
        f"""QPushButton[chip="true"]:checked, QToolButton[chip="true"]:checked {{
            background: {accent.name()}; color: {palette.color(role.HighlightedText).name()}; }}""",
        f"""QFrame[panel="true"] {{ background: {base.name()}; border: 1px solid {mid.name()};
            border-radius: {card_radius}px; }}""",
        f'QLabel[muted="true"], QLabel#emptyState {{ color: {muted}; }}',
    ]
    for kind, colour in banners.items():
        # `#banner` is the main window's engine-state strip: a warning.
        selector = f'QFrame[banner="{kind}"]' + (", QFrame#banner" if kind == "warning" else "")
        rules.append(
            f"""{selector} {{ background: {_blend(colour, window, 0.13)};
            border: 1px solid {_blend(colour, window, 0.45)}; border-radius: {card_radius}px;
            padding: {round(pad * 0.6)}px {pad}px; }}"""
        )
    return "\n".join(rules)


def _wants_dark(app: QApplication, mode: str) -> bool:
    if mode != "system":
        return mode == "dark"
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, mode: str = "system") -> None:
    """Style the whole app; "system" follows the desktop's light/dark choice as it changes."""
    if mode not in MODES:
        # A stale or hand-edited preference must not stop the app from starting.
        log.warning("unknown theme %r; following the system instead", mode)
        mode = "system"
    app.setProperty(_MODE_PROPERTY, mode)
    hints = app.styleHints()
    # Telling Qt the scheme too makes native parts (title bars, file dialogs) match the forced one.
    if mode == "system":
        hints.unsetColorScheme()
    else:
        hints.setColorScheme(Qt.ColorScheme.Dark if mode == "dark" else Qt.ColorScheme.Light)
    # Unconditionally: once a stylesheet is set, app.style() no longer says which style it wraps.
    app.setStyle("Fusion")
    palette = make_palette(_wants_dark(app, mode))
    app.setPalette(palette)
    app.setStyleSheet(stylesheet(palette))
    if not app.property(_FOLLOWING_PROPERTY):
        app.setProperty(_FOLLOWING_PROPERTY, True)
        hints.colorSchemeChanged.connect(lambda _scheme: _on_hints_color_scheme_changed(app))


def _on_hints_color_scheme_changed(app: QApplication) -> None:
    if app.property(_MODE_PROPERTY) == "system":
        palette = make_palette(_wants_dark(app, "system"))
        app.setPalette(palette)
        app.setStyleSheet(stylesheet(palette))
