"""The main window: search box, results with highlights, preview, folders and engine state.

It only wires widgets to the engine link: every answer comes from the engine through
`EngineLink`'s signals, and every action goes back as a request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.engine_link import EngineLink
from desktop.engine_status import EngineStatusLine
from desktop.errors_dialog import ErrorsDialog
from desktop.filter_bar import FilterBar
from desktop.folders_panel import FoldersPanel
from desktop.icons import app_icon, icon
from desktop.onboarding import OnboardingPanel
from desktop.preview_pane import PreviewPane
from desktop.query_words import QueryWordsBar
from desktop.result_actions import SIMILAR_KEYS, ResultActions
from desktop.result_delegate import ResultDelegate
from desktop.result_notice import notice_for
from desktop.result_preview import ResultPreview
from desktop.results_model import ResultRole, ResultsModel, path_at
from desktop.search_flow import SearchFlow
from desktop.search_keys import SearchBoxKeys
from desktop.settings_dialog import SettingsDialog
from desktop.similar_flow import SimilarFlow, SimilarHeader, similar_notice
from desktop.theme import apply_theme
from engine.serve.display import display_path


class MainWindow(QMainWindow):
    results_painted = Signal(int)  # request id whose answer is now on screen (for benchmarks)

    def __init__(self, link: EngineLink, data_dir: Path) -> None:
        super().__init__()
        self.link = link
        self.data_dir = data_dir
        self.setWindowTitle("Dowse")
        self.setWindowIcon(app_icon())
        self._settings = QSettings("Dowse", "Dowse")
        self._folders: list[dict[str, Any]] = []
        self._errors_dialog: ErrorsDialog | None = None
        self._clicked_row = -1
        self._notice_before = ""  # the query's notice, while "more like this" is shown
        self._build()
        self._connect()
        self._restore()

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.search_box = QLineEdit(placeholderText="Ask your files anything…  (Ctrl+K)")
        self.search_box.setObjectName("searchField")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.filters = FilterBar(self)
        self.mode_box, self.type_box, self.date_box, self.folder_box = self.filters.boxes()

        top = QHBoxLayout()
        top.addWidget(self.search_box, 1)
        for box in self.filters.boxes():
            top.addWidget(box)

        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.query_words = QueryWordsBar()
        self.notice = QLabel()
        self.notice.setObjectName("notice")
        self.notice.hide()

        self.model = ResultsModel(self)
        self.delegate = ResultDelegate(self)
        self.results = QListView()
        self.results.setModel(self.model)
        self.delegate.attach(self.results)  # variable heights, re-wrap on resize, repaint on focus
        self.results.setMouseTracking(True)
        self.empty = QLabel("Type a question. Dowse searches your pinned folders by meaning.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("emptyState")
        self.onboarding = OnboardingPanel()
        self.center = QStackedWidget()
        for widget in (self.empty, self.results, self.onboarding):
            self.center.addWidget(widget)

        results_column = QWidget()
        column = QVBoxLayout(results_column)
        column.setContentsMargins(0, 0, 0, 0)
        self.similar_header = SimilarHeader()
        column.addWidget(self.similar_header)
        column.addWidget(self.query_words)
        column.addWidget(self.notice)
        column.addWidget(self.center, 1)

        self.preview = PreviewPane()
        self.folders = FoldersPanel()
        self.splitter = QSplitter()
        self.splitter.addWidget(self.folders)
        self.splitter.addWidget(results_column)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([220, 560, 420])

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(body)

        self.engine_status = EngineStatusLine(self.statusBar(), self.link.rebuild_index, self.link)
        self.engine_label = self.engine_status.activity
        self.device_label = self.engine_status.device
        settings_button = QPushButton(icon("settings"), "")
        settings_button.setFlat(True)
        settings_button.setToolTip("Settings")
        settings_button.clicked.connect(self._on_settings_clicked)
        self.statusBar().addPermanentWidget(settings_button)

        self.search_flow = SearchFlow(self.link, self.search_box, self.filters, self.model, self)
        self.search_keys = SearchBoxKeys(self.search_box, self.results, self.model, self)
        self.result_preview = ResultPreview(self.link, self.results, self.preview, self)
        self.similar_flow = SimilarFlow(self.link, self.results, self.model,
                                        self.similar_header, self)
        self.result_actions = ResultActions(self.results, self._find_similar, self, self.link)
        self.resize(1280, 800)

    def _connect(self) -> None:
        link = self.link
        link.connected.connect(self._on_link_connected)
        link.engine_failed.connect(self._on_link_engine_failed)
        link.status_received.connect(self._on_link_status_received)
        link.errors_received.connect(self._on_link_errors_received)
        link.request_failed.connect(self._on_link_request_failed)
        link.model_loading.connect(self._on_link_model_loading)
        link.model_ready.connect(self._on_link_model_ready)
        link.index_progressed.connect(self._on_link_index_progressed)

        self.search_flow.answered.connect(self._on_search_flow_answered)
        self.search_flow.explained.connect(self._on_search_flow_explained)
        self.search_flow.emptied.connect(self._on_search_flow_emptied)
        self.search_box.returnPressed.connect(self._open_current)

        self.results.doubleClicked.connect(lambda _index: self._open_current())
        self.results.clicked.connect(self._on_results_clicked)
        self.query_words.word_hovered.connect(self._on_query_words_word_hovered)
        self.query_words.word_left.connect(self._on_query_words_word_left)
        self.preview.open_requested.connect(self._open_path)
        self.preview.reveal_requested.connect(self.result_actions.reveal_path)
        self.preview.similar_requested.connect(self.result_actions.find_similar_current)
        self.similar_flow.shown.connect(self._on_similar_flow_shown)
        self.similar_flow.left.connect(self._on_similar_flow_left)

        self.folders.pin_requested.connect(self._pin)
        self.onboarding.pin_requested.connect(self._pin)
        self.folders.forget_requested.connect(self.link.forget)
        self.link.folder_forgotten.connect(self._on_link_folder_forgotten)
        self.folders.pause_requested.connect(self.link.pause)
        self.folders.resume_requested.connect(self.link.resume)
        self.folders.errors_requested.connect(self._show_errors)

        for keys in ("Ctrl+K", "Ctrl+L"):
            QShortcut(QKeySequence(keys), self, activated=self.focus_search)
        reveal = self.result_actions.reveal_current
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=reveal)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=reveal)
        QShortcut(QKeySequence("Escape"), self, activated=self._clear_search)
        QShortcut(QKeySequence(SIMILAR_KEYS), self,
                  activated=self.result_actions.find_similar_current)
        QShortcut(QKeySequence("Alt+Left"), self, activated=self.similar_flow.back)
        quit_action = QAction("Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        self.addAction(quit_action)

    def _restore(self) -> None:
        geometry = self._settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        mode = self._settings.value("search/mode", "hybrid")
        index = self.mode_box.findData(mode)
        if index >= 0:
            self.mode_box.setCurrentIndex(index)
        self.center.setCurrentWidget(self.empty)

    def closeEvent(self, event: Any) -> None:  # noqa: N802  # Qt's name
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.setValue("search/mode", self.mode_box.currentData())
        super().closeEvent(event)

    # -- keyboard ---------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.search_box.setFocus()
        self.search_box.selectAll()

    def _clear_search(self) -> None:
        if self.similar_flow.back():  # Esc first leaves "more like this"
            return
        if self.search_box.text():
            self.search_box.clear()
        self.focus_search()

    # -- searching --------------------------------------------------------------------------

    @property
    def _search_id(self) -> int:
        """The search answer on its way (what bench/gui_latency.py waits for)."""
        return self.search_flow.search_id

    def _on_search_flow_emptied(self) -> None:
        self.similar_flow.leave()
        self.model.clear()
        self.query_words.set_query("", [])
        self.notice.hide()
        self.preview.clear()
        self._show_center()

    def _on_search_flow_explained(self, response: dict[str, Any]) -> None:
        if not self.similar_flow.active:  # not onto "more like this" rows
            self.model.merge_explanations(response)
            self._show_query_words(response)

    def _on_search_flow_answered(self, request_id: int, response: dict[str, Any]) -> None:
        self.similar_flow.leave()
        self.model.set_response(response)
        self._show_query_words(response)
        self._set_notice(notice_for(response))
        self._show_first_result()
        self.results_painted.emit(request_id)

    def _set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _show_first_result(self) -> None:
        self._show_center()
        if self.model.rowCount():
            self.results.selectionModel().setCurrentIndex(
                self.model.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            self.results.scrollToTop()
        self.results.viewport().repaint()

    # -- more like this ---------------------------------------------------------------------

    def _find_similar(self, index: QModelIndex) -> None:
        if not self.similar_flow.active:
            self._notice_before = self.notice.text() if self.notice.isVisible() else ""
        if self.similar_flow.find_like(index):
            self.query_words.hide()

    def _on_similar_flow_shown(self, response: dict[str, Any]) -> None:
        self._set_notice(similar_notice(response))
        self._show_first_result()

    def _on_similar_flow_left(self, restored: bool) -> None:
        if restored:  # the query's rows are back: so are their words and their notice
            self.query_words.setVisible(bool(self.query_words.chips))
            self._set_notice(self._notice_before)

    def _show_query_words(self, response: dict[str, Any]) -> None:
        first = response["results"][0] if response.get("results") else None
        spans = ((first or {}).get("explanation") or {}).get("query_spans", [])
        self.query_words.set_query(response.get("query", ""), spans)

    def _on_link_folder_forgotten(self, detail: str) -> None:
        self.statusBar().showMessage(detail[:1].upper() + detail[1:], 15000)

    def _on_link_request_failed(self, request_id: int, code: str, message: str) -> None:
        self.search_flow.settle(request_id)
        if request_id == self.search_flow.search_id:
            self.notice.setText(f"Search failed: {message}")
            self.notice.show()
        else:
            self.statusBar().showMessage(message, 8000)

    def _show_center(self) -> None:
        if not self._folders:
            self.center.setCurrentWidget(self.onboarding)
        elif self.search_box.text().strip():
            self.center.setCurrentWidget(self.results)
        else:
            self.center.setCurrentWidget(self.empty)

    # -- results and preview ----------------------------------------------------------------

    def _on_results_clicked(self, index: QModelIndex) -> None:
        """A click on an already selected row folds its other passages out or back."""
        if index.isValid() and index.data(ResultRole.More) and self._clicked_row == index.row():
            self.model.set_expanded(index.row(), not index.data(ResultRole.Expanded))
            self.results.doItemsLayout()
        self._clicked_row = index.row()

    def _on_query_words_word_hovered(self, start: int, end: int) -> None:
        self.delegate.set_focus_query_span((start, end))

    def _on_query_words_word_left(self) -> None:
        self.delegate.set_focus_query_span(None)

    def _open_current(self) -> None:
        path = path_at(self.results.currentIndex())  # from the row: a role's could lose bytes
        if path is not None:
            self._open_path(path)

    def _open_path(self, path: str) -> None:
        self.result_actions.open_path(path)  # at the result's page, where the viewer can

    # -- folders, errors, settings ----------------------------------------------------------

    def _pin(self, path: str) -> None:
        self.link.pin(path)
        self.engine_label.setText(f"Looking through {display_path(Path(path).name or path)}…")

    def _show_errors(self) -> None:
        if self._errors_dialog is None:
            self._errors_dialog = ErrorsDialog(self)
            self._errors_dialog.resize(900, 420)
            self._errors_dialog.retry_requested.connect(self._on_errors_retry_requested)
            self._errors_dialog.reveal_requested.connect(self.result_actions.reveal_path)
        self.link.request_errors()
        self._errors_dialog.show()
        self._errors_dialog.raise_()

    def _on_errors_retry_requested(self, paths: list[str]) -> None:
        for path in paths:
            self.link.reindex(path)
        self.link.request_errors()

    def _on_link_errors_received(self, rows: list[dict[str, Any]]) -> None:
        if self._errors_dialog is not None:
            self._errors_dialog.set_errors(rows)

    def _on_settings_clicked(self) -> None:
        dialog = SettingsDialog(self.data_dir, self)
        dialog.theme_changed.connect(self._on_settings_theme_changed)
        dialog.exec()

    def _on_settings_theme_changed(self, mode: str) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, mode)

    # -- engine state -----------------------------------------------------------------------

    def _on_link_connected(self, _info: dict[str, Any]) -> None:
        self.banner.hide()
        self.search_flow.forget_in_flight()
        self.link.request_status()
        if self.search_box.text().strip():
            self.search_flow.search_now()  # the user keeps their query across an engine restart

    def _on_link_engine_failed(self, reason: str) -> None:
        log = self.data_dir / "engine.log"  # where a spawned engine's output goes
        self.banner.setText(f"The engine stopped ({reason}). Restarting it… Details: {log}")
        self.banner.show()
        self.engine_label.setText("Engine restarting…")

    def _on_link_model_loading(self, model: str) -> None:
        self.engine_status.show_model_loading(model)

    def _on_link_model_ready(self, model: str, device: str, precision: str) -> None:
        self.engine_status.show_device(device, precision, model)

    def _on_link_index_progressed(self, progress: dict[str, Any]) -> None:
        self.engine_status.show_progress(progress.get("queued", 0), progress.get("rate", 0.0),
                                         progress.get("eta_seconds"))

    def _on_link_status_received(self, status: dict[str, Any]) -> None:
        self._folders = list(status.get("folder_list", []))
        self.folders.set_folders(self._folders)
        self.filters.set_folders([row["path"] for row in self._folders])
        self.engine_status.show_status(status)
        if self.center.currentWidget() in (self.onboarding, self.empty) or not self._folders:
            self._show_center()
