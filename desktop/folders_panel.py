"""The pinned folders, how far each has got, and requests to add, pause, resume or forget one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QFontMetrics,
    QIcon,
    QPainter,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from desktop.file_opener import local_path
from desktop.icons import icon
from desktop.theme import semantic_color
from engine.serve.display import display_path

PathRole = Qt.ItemDataRole.UserRole + 1
RowRole = Qt.ItemDataRole.UserRole + 2
BadgeRole = Qt.ItemDataRole.UserRole + 3

# Badge text -> the semantic colour it is drawn in.
_BADGE_KINDS = {
    "live": "success", "polling": "warning", "paused": "muted", "missing": "danger",
    "error": "danger", "not watched": "muted",
}

ConfirmUnpin = Callable[[QWidget, str], bool]
ChooseFolder = Callable[[QWidget], str]


def folder_badge(row: dict[str, Any]) -> str:
    """The one word that says how a folder is kept up to date, or what is wrong with it."""
    if row.get("state") in ("missing", "error"):
        return str(row["state"])
    if row.get("paused"):
        return "paused"
    return row.get("watch") if row.get("watch") in ("live", "polling") else "not watched"


def summary_parts(row: dict[str, Any]) -> list[tuple[str, str]]:
    """The count phrases for a folder, each with the semantic colour it is drawn in."""
    parts = [(f"{row.get('indexed', 0):,} indexed", "text")]
    if row.get("failed"):
        parts.append((f"{row['failed']:,} failed", "danger"))
    if row.get("skipped"):
        parts.append((f"{row['skipped']:,} skipped", "muted"))
    if row.get("queued"):
        parts.append((f"{row['queued']:,} queued", "text"))
    return parts


def folder_summary(row: dict[str, Any]) -> str:
    """"1,234 indexed · 3 failed · 12 queued": the counts worth a glance."""
    return " · ".join(text for text, _kind in summary_parts(row))


def dropped_folders(mime: QMimeData) -> list[str]:
    """The local directories in a drag; files and remote URLs are left out."""
    if not mime.hasUrls():
        return []
    paths = (Path(local_path(url)) for url in mime.urls() if url.isLocalFile())
    return [str(path) for path in paths if path.is_dir()]


def _confirm_unpin(parent: QWidget, path: str) -> bool:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Remove folder and forget its index")
    box.setText(f"Stop searching “{display_path(Path(path).name or path)}” and forget its index?")
    box.setInformativeText(
        "Dowse deletes what it read there, its words and its vectors, from the index on "
        "disk, so no copy of them is left behind. Your files are not touched."
    )
    remove = box.addButton("Remove and forget", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is remove


def ask_for_folder(parent: QWidget) -> str:
    """The folder picker: a directory path, or "" when the user cancels."""
    return QFileDialog.getExistingDirectory(parent, "Add a folder to search", str(Path.home()))


class _FolderDelegate(QStyledItemDelegate):
    """Paints a folder as three lines (name and badge, full path, counts) beside its icon."""

    def _metrics(self, option: QStyleOptionViewItem) -> tuple[QFontMetrics, int, int]:
        metrics = QFontMetrics(option.font)
        return metrics, metrics.height() // 2, metrics.lineSpacing()

    def sizeHint(self, option: QStyleOptionViewItem,
                 index: QModelIndex | QPersistentModelIndex) -> QSize:
        metrics, pad, line = self._metrics(option)
        return QSize(metrics.averageCharWidth() * 40, 2 * pad + 3 * line + line // 4)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        row: dict[str, Any] = index.data(RowRole) or {}
        badge = str(index.data(BadgeRole) or "")
        opt.text, opt.icon = "", QIcon()
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)

        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        palette = opt.palette
        text_colour = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        if selected:
            muted = QColor(text_colour)
            muted.setAlphaF(0.8)

        metrics, pad, line = self._metrics(opt)
        area = opt.rect.adjusted(pad, pad, -pad, -pad)
        side = 2 * line
        icon_rect = QRect(area.left(), area.top() + (3 * line - side) // 2, side, side)
        mode = QIcon.Mode.Selected if selected else QIcon.Mode.Normal
        if badge in ("missing", "error"):
            icon("warning", semantic_color(palette, "danger")).paint(painter, icon_rect)
        else:
            icon("folder").paint(painter, icon_rect, Qt.AlignmentFlag.AlignCenter, mode)
        left = icon_rect.right() + pad
        width = area.right() - left

        painter.save()
        badge_width = self._paint_badge(painter, opt, badge, QRect(left, area.top(), width, line))
        bold = QFont(opt.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_colour)
        path = str(row.get("path", ""))
        name = QFontMetrics(bold).elidedText(
            Path(path).name or path, Qt.TextElideMode.ElideRight, width - badge_width - pad
        )
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRect(left, area.top(), width, line), flags, name)

        painter.setFont(opt.font)
        painter.setPen(muted)
        top = area.top() + line + line // 8
        elided = metrics.elidedText(path, Qt.TextElideMode.ElideMiddle, width)
        painter.drawText(QRect(left, top, width, line), flags, elided)

        x, top = left, top + line + line // 8
        for number, (text, kind) in enumerate(summary_parts(row)):
            plain = selected or kind == "text"
            colour = text_colour if plain else semantic_color(palette, kind)
            for piece, pen in ((" · " if number else "", muted), (text, colour)):
                painter.setPen(pen)
                painter.drawText(QRect(x, top, area.right() - x, line), flags, piece)
                x += metrics.horizontalAdvance(piece)
        painter.restore()

    def _paint_badge(self, painter: QPainter, opt: QStyleOptionViewItem, badge: str,
                     line_rect: QRect) -> int:
        if not badge:
            return 0
        small = QFont(opt.font)
        small.setPointSizeF(opt.font.pointSizeF() * 0.85)
        metrics = QFontMetrics(small)
        height = metrics.height() + 2
        width = metrics.horizontalAdvance(badge) + metrics.height()
        rect = QRect(line_rect.right() - width, line_rect.center().y() - height // 2 + 1,
                     width, height)
        colour = semantic_color(opt.palette, _BADGE_KINDS.get(badge, "muted"))
        if opt.state & QStyle.StateFlag.State_Selected:
            colour = opt.palette.color(QPalette.ColorRole.HighlightedText)
        fill = QColor(colour)
        fill.setAlphaF(0.16)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setFont(small)
        painter.setPen(colour)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, badge)
        return width


class FoldersPanel(QWidget):
    """Lists pinned folders and turns clicks and drops into requests; the engine does the work."""

    # Paths go as `object`: a Signal(str) would drop the bytes of a name that is not UTF-8.
    pin_requested = Signal(object)
    forget_requested = Signal(object)  # remove the folder and forget its index (engine: forget)
    pause_requested = Signal(object)
    resume_requested = Signal(object)
    errors_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *,
                 confirm_unpin: ConfirmUnpin | None = None,
                 choose_folder: ChooseFolder | None = None) -> None:
        super().__init__(parent)
        self._confirm_unpin = confirm_unpin or _confirm_unpin
        self._choose_folder = choose_folder or ask_for_folder
        self._rows: list[dict[str, Any]] = []  # as the engine sent them, in the list's order
        self.setAcceptDrops(True)

        self.list = QListWidget()
        self.list.setObjectName("foldersList")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setItemDelegate(_FolderDelegate(self.list))
        self.list.itemSelectionChanged.connect(self._on_list_item_selection_changed)

        empty = QLabel("No folders yet.\nAdd one, or drop a folder here.")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setProperty("muted", True)
        self._stack = QStackedWidget()
        self._stack.addWidget(empty)
        self._stack.addWidget(self.list)

        self.add_button = QPushButton(icon("folder-plus"), "Add folder…")
        self.pause_button = QPushButton(icon("pause"), "Pause")
        self.remove_button = QPushButton(icon("remove"), "Remove")
        self.errors_button = QPushButton(icon("warning"), "Errors…")
        self.add_button.setToolTip("Pin a folder so Dowse reads it and keeps it up to date")
        self.remove_button.setToolTip(
            "Remove the selected folder and forget its index; its files stay put"
        )
        self.errors_button.setToolTip("Files that could not be read, and why")
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.errors_button.clicked.connect(self.errors_requested)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        for button in (self.pause_button, self.remove_button, self.errors_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack, 1)
        layout.addLayout(buttons)
        self._sync_buttons()

    # -- contents --------------------------------------------------------------------------

    def set_folders(self, rows: list[dict[str, Any]]) -> None:
        """Show these folders, in this order, keeping the selected one selected."""
        selected = self.selected_path()
        paths = [str(row["path"]) for row in rows]
        if paths != self.paths():
            self.list.blockSignals(True)
            self.list.clear()
            for path in paths:
                item = QListWidgetItem()
                item.setData(PathRole, path)
                self.list.addItem(item)
            self.list.blockSignals(False)
            if selected in paths:
                self.list.setCurrentRow(paths.index(selected))
        self._rows = [dict(row) for row in rows]  # paths from here: items' would lose bytes
        for number, row in enumerate(rows):
            self._fill(self.list.item(number), row)
        self._stack.setCurrentWidget(self.list if rows else self._stack.widget(0))
        self._sync_buttons()

    def _fill(self, item: QListWidgetItem, row: dict[str, Any]) -> None:
        badge, summary, path = folder_badge(row), folder_summary(row), str(row["path"])
        item.setData(RowRole, {**row, "path": display_path(path)})  # for painting only
        item.setData(BadgeRole, badge)
        name = display_path(Path(path).name or path)
        item.setData(Qt.ItemDataRole.DisplayRole, name)
        item.setToolTip(f"{display_path(path)}\n{summary}")
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{name}, {badge}, {summary}")

    def paths(self) -> list[str]:
        return [str(row["path"]) for row in self._rows]

    def selected_path(self) -> str | None:
        row = self._selected_row()
        return str(row["path"]) if row is not None else None

    def select_path(self, path: str) -> bool:
        """Select the folder with this path; False when it is not listed."""
        if path not in self.paths():
            return False
        self.list.setCurrentRow(self.paths().index(path))
        return True

    def _selected_row(self) -> dict[str, Any] | None:
        items = self.list.selectedItems()
        number = self.list.row(items[0]) if items else -1
        return self._rows[number] if 0 <= number < len(self._rows) else None

    def _sync_buttons(self) -> None:
        row = self._selected_row()
        paused = bool(row and row.get("paused"))
        self.pause_button.setEnabled(row is not None)
        self.remove_button.setEnabled(row is not None)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setIcon(icon("play" if paused else "pause"))
        self.pause_button.setToolTip(
            "Start reading this folder again" if paused else "Stop reading this folder for now"
        )

    # -- slots -----------------------------------------------------------------------------

    def _on_list_item_selection_changed(self) -> None:
        self._sync_buttons()

    def _on_add_button_clicked(self) -> None:
        path = self._choose_folder(self)
        if path:
            self.pin_requested.emit(str(Path(path)))

    def _on_pause_button_clicked(self) -> None:
        row = self._selected_row()
        if row is None:
            return
        signal = self.resume_requested if row.get("paused") else self.pause_requested
        signal.emit(str(row["path"]))

    def _on_remove_button_clicked(self) -> None:
        path = self.selected_path()
        if path is not None and self._confirm_unpin(self, path):
            self.forget_requested.emit(path)

    # -- drag and drop ---------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._accept_folders(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._accept_folders(event)

    def _accept_folders(self, event: QDragMoveEvent) -> None:
        # Say "no" while hovering, not after the drop, so a file never looks droppable.
        if dropped_folders(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        folders = dropped_folders(event.mimeData())
        if not folders:
            event.ignore()
            return
        event.acceptProposedAction()
        for path in folders:
            self.pin_requested.emit(path)
