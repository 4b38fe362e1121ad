"""The small controls above the preview: the page-or-text switch for paged files, and the list
of other files that hold the same passage, each a click away from opening."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QEnterEvent, QFont, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.file_icons import file_icon
from engine.serve.display import display_path

MAX_COPIES_SHOWN = 4  # more go into a menu, so a file saved ten times cannot fill the pane


class ElidedLabel(QLabel):
    """A one-line label that gives up its middle ("arctic-te…report.pdf") rather than push the
    buttons beside it out of the pane; text() stays whole."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802  # Qt's name
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle,
                                              self.contentsRect().width())
        painter.drawText(self.contentsRect(), int(Qt.AlignmentFlag.AlignLeft
                                                  | Qt.AlignmentFlag.AlignVCenter), shown)
        painter.end()


class CopyLink(QWidget):
    """One copy: its icon, its name as a link and its folder, cut to fit; a click opens it."""

    clicked = Signal()

    def __init__(self, copy: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path: str = copy["path"]
        page = copy.get("page")
        self.name = (copy.get("name") or self.path) + (f"  ·  p. {page}" if page is not None
                                                       else "")
        self.folder = copy.get("folder") or ""
        self._icon = file_icon(copy.get("name") or "")
        self._hover = False
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"Open {display_path(self.path)}")

    def sizeHint(self) -> QSize:  # noqa: N802  # Qt's name
        return QSize(200, self.fontMetrics().height() + 6)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802  # Qt's name
        painter = QPainter(self)
        side = 16
        y = (self.height() - side) // 2
        painter.drawPixmap(QRect(2, y, side, side),
                           self._icon.pixmap(QSize(side, side), self.devicePixelRatioF()))
        x, fm, room = side + 8, self.fontMetrics(), self.width() - side - 10
        font = QFont(self.font())
        font.setUnderline(self._hover)
        painter.setFont(font)
        painter.setPen(self.palette().color(QPalette.ColorRole.Link))
        name = fm.elidedText(self.name, Qt.TextElideMode.ElideMiddle, room)
        align = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        painter.drawText(QRect(x, 0, room, self.height()), align, name)
        used = fm.horizontalAdvance(name)
        if self.folder and room - used > 40:
            painter.setFont(self.font())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            folder = fm.elidedText(f"  —  {self.folder}", Qt.TextElideMode.ElideMiddle,
                                   room - used)
            painter.drawText(QRect(x + used, 0, room - used, self.height()), align, folder)
        painter.end()

    def enterEvent(self, event: QEnterEvent) -> None:  # noqa: N802  # Qt's name
        self._hover = True
        self.update()

    def leaveEvent(self, event: Any) -> None:  # noqa: N802  # Qt's name
        self._hover = False
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802  # Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.clicked.emit()


class ViewSwitch(QWidget):
    """Two chips, Page and Text (Alt+P, Alt+T); shown only for a file the engine can draw."""

    chosen = Signal(bool)  # True: the page

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page_button = QPushButton("&Page", self)
        self.text_button = QPushButton("&Text", self)
        self.text_button.setToolTip("The text Dowse read from the file (Alt+T)")
        self._prefers_page = True  # the user's choice, kept while a page cannot be drawn
        self._group = QButtonGroup(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        for button in (self.page_button, self.text_button):
            button.setCheckable(True)
            button.setProperty("chip", True)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            self._group.addButton(button)
            layout.addWidget(button)
        self.page_button.setChecked(True)
        self._group.buttonClicked.connect(self._on_group_button_clicked)
        self.set_available(False)

    @property
    def page_chosen(self) -> bool:
        """The user wants the page (when there is one to show)."""
        return self._prefers_page

    def set_available(self, available: bool, problem: str = "") -> None:
        """Shown for a paged file; with a `problem`, the page cannot be had and the text is
        shown instead, the Page chip saying why."""
        self.setVisible(available)
        self.text_button.setEnabled(available)
        self.page_button.setEnabled(available and not problem)
        self.page_button.setToolTip(problem or "The page as printed, the passage marked "
                                    "(Alt+P); Ctrl+wheel zooms")
        page = self._prefers_page and not problem
        (self.page_button if page else self.text_button).setChecked(True)

    def choose(self, page: bool) -> None:
        self._prefers_page = page
        (self.page_button if page else self.text_button).setChecked(True)
        self.chosen.emit(page)

    def _on_group_button_clicked(self, button: QPushButton) -> None:
        self._prefers_page = button is self.page_button
        self.chosen.emit(self._prefers_page)


class CopiesLine(QWidget):
    """"Also in 2 other files", then each file as a button that opens it."""

    open_requested = Signal(object)  # the path: a Signal(str) would mangle one not UTF-8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = QLabel(self)
        self._title.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self._rows = QVBoxLayout()
        self._rows.setSpacing(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.setSpacing(2)
        layout.addWidget(self._title)
        layout.addLayout(self._rows)
        self._buttons: list[QWidget] = []
        self.hide()

    @property
    def buttons(self) -> list[QWidget]:
        """A `CopyLink` per copy shown, then the menu of the rest if there are more."""
        return list(self._buttons)

    def set_copies(self, copies: Sequence[dict[str, Any]]) -> None:
        for button in self._buttons:
            self._rows.removeWidget(button)
            button.deleteLater()
        self._buttons = []
        copies = [c for c in copies if isinstance(c.get("path"), str)]
        if not copies:
            self.hide()
            return
        count = len(copies)
        self._title.setText(f"Also in {count} other file{'s' if count != 1 else ''}:")
        for copy in copies[:MAX_COPIES_SHOWN]:
            link = CopyLink(copy, self)
            link.clicked.connect(lambda path=copy["path"]: self.open_requested.emit(path))
            self._add(link)
        if count > MAX_COPIES_SHOWN:
            more = QToolButton(self)
            more.setText(f"and {count - MAX_COPIES_SHOWN} more…")
            more.setAutoRaise(True)
            more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            menu = QMenu(more)
            for copy in copies[MAX_COPIES_SHOWN:]:
                action = menu.addAction(file_icon(copy.get("name", "")),
                                        display_path(copy["path"]))
                action.triggered.connect(
                    lambda _=False, path=copy["path"]: self.open_requested.emit(path))
            more.setMenu(menu)
            self._add(more)
        self.show()

    def _add(self, button: QWidget) -> None:
        self._buttons.append(button)
        if isinstance(button, QToolButton):  # the menu of the rest keeps to its text's size
            self._rows.addWidget(button, 0, Qt.AlignmentFlag.AlignLeft)
        else:
            self._rows.addWidget(button)
