"""Lets the keys pressed in the search box move through the results, so the hands never have to
leave the query to pick, open or unfold one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, Qt
from PySide6.QtWidgets import QLineEdit, QListView

from desktop.results_model import ResultsModel

STEPS = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5, Qt.Key.Key_PageUp: -5}


class SearchBoxKeys(QObject):
    """An event filter on the search box: the arrow and page keys move the current result, and
    at the end of the query → and ← fold a file's other passages out and back."""

    def __init__(self, search_box: QLineEdit, results: QListView, model: ResultsModel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._search_box = search_box
        self._results = results
        self._model = model
        search_box.installEventFilter(self)

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802  # Qt's name
        if watched is self._search_box and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in STEPS:
                self._move_selection(key)
                return True
            at_end = self._search_box.cursorPosition() == len(self._search_box.text())
            if key in (Qt.Key.Key_Right, Qt.Key.Key_Left) and at_end:
                row = self._results.currentIndex().row()
                if self._model.set_expanded(row, key == Qt.Key.Key_Right):
                    self._results.doItemsLayout()
                    return True
        return super().eventFilter(watched, event)

    def _move_selection(self, key: int) -> None:
        rows = self._model.rowCount()
        if not rows:
            return
        current = self._results.currentIndex().row()
        row = min(rows - 1, max(0, (current if current >= 0 else -1) + STEPS[Qt.Key(key)]))
        index = self._model.index(row, 0)
        self._results.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self._results.scrollTo(index)
