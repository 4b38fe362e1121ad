"""The files Dowse could not read or chose to skip, with the reason, so the user can act on them."""

from __future__ import annotations

from enum import IntEnum
from pathlib import PurePath
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QFontMetrics, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.icons import icon
from desktop.theme import semantic_color
from engine.serve.display import display_path

AnyIndex = QModelIndex | QPersistentModelIndex
PathRole = Qt.ItemDataRole.UserRole + 1
StateRole = Qt.ItemDataRole.UserRole + 2
EMPTY_TEXT = "No problems — every file was read."


class ErrorColumn(IntEnum):
    FILE = 0
    FOLDER = 1
    REASON = 2


_HEADERS = {ErrorColumn.FILE: "File", ErrorColumn.FOLDER: "Folder", ErrorColumn.REASON: "Reason"}


class ErrorsModel(QAbstractTableModel):
    """One row per failed or skipped file, failed ones first, then by path."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, str]] = []

    def set_errors(self, rows: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._rows = sorted(
            ({"path": str(r["path"]), "state": str(r.get("state", "failed")),
              "reason": str(r.get("reason") or "")} for r in rows),
            key=lambda r: (r["state"] != "failed", r["path"]),
        )
        self.endResetModel()

    def path_at(self, index: AnyIndex) -> str:
        """The path of the row at `index`, as the engine sent it; PathRole's is only fit to
        show, since PySide6 drops the surrogate escapes of a name that is not UTF-8."""
        return self._rows[index.row()]["path"]

    def counts(self) -> tuple[int, int]:
        """(failed, skipped)."""
        failed = sum(row["state"] == "failed" for row in self._rows)
        return failed, len(self._rows) - failed

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's idiom)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(ErrorColumn)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _HEADERS.get(ErrorColumn(section)) if 0 <= section < len(ErrorColumn) else None
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not self.checkIndex(index, QAbstractTableModel.CheckIndexOption.IndexIsValid):
            return None
        row = self._rows[index.row()]
        column = ErrorColumn(index.column())
        failed = row["state"] == "failed"
        if role == Qt.ItemDataRole.DisplayRole:
            path = PurePath(row["path"])
            if column == ErrorColumn.FILE:
                return display_path(path.name)  # a name that is not UTF-8 shows U+FFFD
            if column == ErrorColumn.FOLDER:
                return display_path(str(path.parent))
            # Long reasons (a traceback's last line, say) stay one line; the tooltip has it all.
            return row["reason"].splitlines()[0] if row["reason"] else ""
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = "Could not read" if failed else "Skipped"
            return f"{kind}: {display_path(row['path'])}\n{row['reason']}".rstrip()
        if role == Qt.ItemDataRole.DecorationRole and column == ErrorColumn.FILE:
            palette = QGuiApplication.palette()
            return icon("warning", semantic_color(palette, "danger" if failed else "muted"))
        if role == Qt.ItemDataRole.ForegroundRole and not failed:
            return QGuiApplication.palette().color(QPalette.ColorRole.PlaceholderText)
        if role == PathRole:
            return row["path"]
        if role == StateRole:
            return row["state"]
        return None


class ErrorsDialog(QDialog):
    """Lists problem files; Retry and Open folder become requests, the engine does the work."""

    retry_requested = Signal(object)  # [path]; paths as `object`, never through a QString
    reveal_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files Dowse could not read")
        self.model = ErrorsModel(self)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self.model)
        self._proxy.setFilterKeyColumn(-1)
        self._proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name, folder or reason")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.filter_edit.textChanged.connect(self._on_filter_edit_text_changed)

        self.table = QTableView()
        self.table.setModel(self._proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # No sort indicator to start with: the model's own order, failed files first.
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection_changed)

        empty = QLabel(EMPTY_TEXT)
        empty.setObjectName("errorsEmpty")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setProperty("muted", True)
        self._stack = QStackedWidget()
        self._stack.addWidget(empty)
        self._stack.addWidget(self.table)

        self.retry_button = QPushButton(icon("retry"), "Retry")
        self.retry_button.setToolTip("Read the selected files again")
        self.reveal_button = QPushButton(icon("reveal"), "Open folder")
        self.reveal_button.setToolTip("Show the file in its folder")
        self.retry_button.clicked.connect(self._on_retry_button_clicked)
        self.reveal_button.clicked.connect(self._on_reveal_button_clicked)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.reveal_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self._stack, 1)
        layout.addLayout(buttons)

        metrics = QFontMetrics(self.font())
        self.resize(metrics.averageCharWidth() * 110, metrics.lineSpacing() * 26)
        self.set_errors([])

    def set_errors(self, rows: list[dict[str, Any]]) -> None:
        """Show these problem files ({"path", "state", "reason"}), failed ones first."""
        self.model.set_errors(rows)
        failed, skipped = self.model.counts()
        self._stack.setCurrentWidget(self.table if rows else self._stack.widget(0))
        self.filter_edit.setVisible(bool(rows))
        self.summary.setText(self._summary_text(failed, skipped))
        self.summary.setVisible(bool(rows))
        if rows:
            width = QFontMetrics(self.table.font()).averageCharWidth()
            self.table.setColumnWidth(ErrorColumn.FILE, width * 30)
            self.table.setColumnWidth(ErrorColumn.FOLDER, width * 36)
        self._sync_buttons()

    @staticmethod
    def _summary_text(failed: int, skipped: int) -> str:
        parts = []
        if failed:
            parts.append(f"{failed:,} file{'s' if failed != 1 else ''} could not be read")
        if skipped:
            parts.append(f"{skipped:,} skipped on purpose (too large, or not a kind Dowse reads)")
        return "; ".join(parts) + "." if parts else ""

    def visible_paths(self) -> list[str]:
        """The paths in the table as shown, after filtering and sorting."""
        return [self._path_at(self._proxy.index(n, 0)) for n in range(self._proxy.rowCount())]

    def selected_paths(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self._path_at(self._proxy.index(row, 0)) for row in rows]

    def _path_at(self, index: QModelIndex) -> str:
        return self.model.path_at(self._proxy.mapToSource(index))

    def _sync_buttons(self) -> None:
        selected = self.table.selectionModel().hasSelection()
        self.retry_button.setEnabled(selected)
        self.reveal_button.setEnabled(selected)

    # -- slots -----------------------------------------------------------------------------

    def _on_filter_edit_text_changed(self, text: str) -> None:
        self._proxy.setFilterFixedString(text)
        self._sync_buttons()

    def _on_table_selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        self._sync_buttons()

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        self.reveal_requested.emit(self._path_at(index))

    def _on_retry_button_clicked(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.retry_requested.emit(paths)

    def _on_reveal_button_clicked(self) -> None:
        current = self.table.currentIndex()
        if current.isValid() and self.table.selectionModel().isRowSelected(current.row()):
            self.reveal_requested.emit(self._path_at(current))
        elif paths := self.selected_paths():
            self.reveal_requested.emit(paths[0])
