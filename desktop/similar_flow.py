""""More like this": asks the engine for passages near a result in meaning, shows them in the
result list under a header that says what they are like, and puts the query's results back."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QListView,
    QPushButton,
    QWidget,
)

from desktop.engine_link import EngineLink
from desktop.icons import icon
from desktop.preview_header import ElidedLabel
from desktop.results_model import ResultsModel, Snapshot, row_at
from desktop.signals import emit_signal
from engine.serve.display import display_path


def similar_notice(response: dict[str, Any]) -> str:
    """What to say above "more like this" answers, if anything."""
    if not response.get("results"):
        return "Nothing else in your folders reads like this passage."
    if not response.get("confident", True):
        return "Nothing is very close — these are the nearest passages."
    return ""


def _shown_name(path: str) -> str:
    return display_path(PurePath(path).name or path)


class SimilarHeader(QFrame):
    """"Like report.pdf · p. 4" above the list, with the way back to the query's results."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("panel", True)
        self.title = ElidedLabel(self)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.detail = ElidedLabel(self)
        self.detail.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.back_button = QPushButton(self)
        self.back_button.setFlat(True)
        icon_label = QLabel(self)
        icon_label.setPixmap(icon("sparkle").pixmap(18, 18))
        layout = QGridLayout(self)
        layout.setContentsMargins(10, 6, 6, 4)
        layout.setHorizontalSpacing(8)
        layout.setVerticalSpacing(0)
        layout.addWidget(icon_label, 0, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.title, 0, 1, 1, 2)
        layout.addWidget(self.detail, 1, 1)
        layout.addWidget(self.back_button, 1, 2)
        layout.setColumnStretch(1, 1)
        self.hide()

    def show_source(self, name: str, page: int | None, query: str, searching: bool) -> None:
        where = f"  ·  p. {page}" if page is not None else ""
        self.title.setText(f"More like {name}{where}")
        self.title.setToolTip(self.title.text())
        self.detail.setText("Looking for passages close in meaning…" if searching else "")
        self.back_button.setText("← Back to results")
        self.back_button.setToolTip(f"Back to the results for “{query}” (Alt+Left or Esc)")
        self.show()


class SimilarFlow(QObject):
    """Holds the query's results while "more like this" answers are on screen."""

    shown = Signal(object)  # the similar answer, now in the model
    left = Signal(bool)  # the list shows the query's results again (True) or a newer search's

    def __init__(self, link: EngineLink, results: QListView, model: ResultsModel,
                 header: SimilarHeader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._link = link
        self._results = results
        self._model = model
        self.header = header
        self._request_id = -1
        self._source: tuple[str, int | None, int] | None = None  # path, page, start
        self._saved: tuple[Snapshot, int] | None = None  # the query's rows and selected row
        link.similar_received.connect(self._on_link_similar_received)
        link.request_failed.connect(self._on_link_request_failed)
        header.back_button.clicked.connect(self._on_back_button_clicked)

    @property
    def active(self) -> bool:
        """The list shows (or waits for) "more like this" answers, not the query's results."""
        return self._saved is not None

    @property
    def request_id(self) -> int:
        return self._request_id

    def find_like(self, index: QModelIndex) -> bool:
        """Ask for passages like the result at `index`; False if there is none."""
        row = row_at(index)  # its path as the engine sent it: a role's would lose bytes
        if row is None:
            return False
        path, page, start = row.best.path, row.best.page, row.best.start
        if self._saved is None:  # from within "like" answers, Back still leads to the query
            self._saved = (self._model.snapshot(), index.row())
        self._source = (path, page, start)
        self._request_id = self._link.similar(path, page=page, start=start)
        self.header.show_source(_shown_name(path), page, self._saved[0].query, True)
        return True

    def back(self) -> bool:
        """Put the query's results back, with the row that was selected; False if not active."""
        if self._saved is None:
            return False
        snapshot, row = self._saved
        self._forget()
        self._model.restore(snapshot)
        if 0 <= row < self._model.rowCount():
            index = self._model.index(row, 0)
            self._results.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self._results.scrollTo(index)
        emit_signal(self.left, True)
        return True

    def leave(self) -> None:
        """A new search replaces the list: forget the saved results without showing them."""
        if self._saved is not None:
            self._forget()
            emit_signal(self.left, False)

    def _forget(self) -> None:
        self._saved, self._source, self._request_id = None, None, -1
        self.header.hide()

    def _on_back_button_clicked(self) -> None:
        self.back()

    def _on_link_similar_received(self, request_id: int, response: dict[str, Any]) -> None:
        if request_id != self._request_id or self._saved is None or self._source is None:
            return
        path, page, start = self._source
        results = [item for item in response.get("results") or []
                   if not (isinstance(item, dict) and item.get("path") == path
                           and item.get("start") == start)]  # not the passage itself
        shown = {**response, "results": results, "query": ""}
        self._model.set_response(shown)
        self.header.show_source(_shown_name(path), page, self._saved[0].query, False)
        count = self._model.rowCount()
        self.header.detail.setText(f"{count} passage{'s' if count != 1 else ''} close in "
                                   "meaning" if count else "")
        emit_signal(self.shown, shown)

    def _on_link_request_failed(self, request_id: int, _code: str, message: str) -> None:
        if request_id == self._request_id and self._saved is not None:
            self.header.detail.setText(f"Failed: {message}")
