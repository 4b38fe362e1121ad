"""The main window: search box, results with highlights, preview, folders and engine state.

It only wires widgets to the engine link: every answer comes from the engine through
`EngineLink`'s signals, and every action goes back as a request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShortcut
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
from desktop.result_delegate import ResultDelegate
from desktop.results_model import ResultRole, ResultsModel
from desktop.settings_dialog import SettingsDialog
from desktop.theme import apply_theme

SEARCH_DEBOUNCE_MS = 40  # typing pauses shorter than this do not send a search
# Explanations (a forward pass over the top passages, ~200 ms on a 2-core CPU) are asked for
# once typing pauses this long, so they never hold up the next keystroke's search.
EXPLAIN_AFTER_MS = 250


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
        self._text_requests: dict[int, tuple[str, int, int, list[Any], list[Any]]] = {}
        self._clicked_row = -1
        self._search_id = -1  # the answer on its way for what is in the search box
        self._in_flight: int | None = None  # the one search request not yet answered
        self._pending = False  # the text changed while a search was in flight
        self._explain_id = -1  # the same query again, with explanations
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

        self.engine_status = EngineStatusLine(self.statusBar())
        self.engine_label = self.engine_status.activity
        self.device_label = self.engine_status.device
        settings_button = QPushButton(icon("settings"), "")
        settings_button.setFlat(True)
        settings_button.setToolTip("Settings")
        settings_button.clicked.connect(self._on_settings_clicked)
        self.statusBar().addPermanentWidget(settings_button)

        self._debounce = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS)
        self._explain_timer = QTimer(self, singleShot=True, interval=EXPLAIN_AFTER_MS)
        self.resize(1280, 800)

    def _connect(self) -> None:
        link = self.link
        link.connected.connect(self._on_link_connected)
        link.engine_failed.connect(self._on_link_engine_failed)
        link.results_received.connect(self._on_link_results_received)
        link.status_received.connect(self._on_link_status_received)
        link.errors_received.connect(self._on_link_errors_received)
        link.request_failed.connect(self._on_link_request_failed)
        link.model_loading.connect(self._on_link_model_loading)
        link.model_ready.connect(self._on_link_model_ready)
        link.index_progressed.connect(self._on_link_index_progressed)
        link.text_received.connect(self._on_link_text_received)

        self.search_box.textChanged.connect(lambda _text: self._debounce.start())
        self.search_box.returnPressed.connect(self._open_current)
        self.search_box.installEventFilter(self)
        self.filters.changed.connect(self._search_now)
        self._debounce.timeout.connect(self._search_now)
        self._explain_timer.timeout.connect(self._request_explanations)

        self.results.selectionModel().currentChanged.connect(self._on_results_current_changed)
        self.results.doubleClicked.connect(lambda _index: self._open_current())
        self.results.clicked.connect(self._on_results_clicked)
        self.query_words.word_hovered.connect(self._on_query_words_word_hovered)
        self.query_words.word_left.connect(self._on_query_words_word_left)
        self.preview.open_requested.connect(self._open_path)
        self.preview.reveal_requested.connect(self._reveal_path)

        self.folders.pin_requested.connect(self._pin)
        self.onboarding.pin_requested.connect(self._pin)
        self.folders.unpin_requested.connect(self.link.unpin)
        self.folders.pause_requested.connect(self.link.pause)
        self.folders.resume_requested.connect(self.link.resume)
        self.folders.errors_requested.connect(self._show_errors)

        for keys in ("Ctrl+K", "Ctrl+L"):
            QShortcut(QKeySequence(keys), self, activated=self.focus_search)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self._reveal_current)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self._reveal_current)
        QShortcut(QKeySequence("Escape"), self, activated=self._clear_search)
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

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802  # Qt's name
        from PySide6.QtCore import QEvent

        if watched is self.search_box and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                self._move_selection(key)
                return True
            at_end = self.search_box.cursorPosition() == len(self.search_box.text())
            if key in (Qt.Key.Key_Right, Qt.Key.Key_Left) and at_end:
                # At the end of the query the arrows fold a file's other passages out and back.
                row = self.results.currentIndex().row()
                if self.model.set_expanded(row, key == Qt.Key.Key_Right):
                    self.results.doItemsLayout()
                    return True
        return super().eventFilter(watched, event)

    def _move_selection(self, key: int) -> None:
        rows = self.model.rowCount()
        if not rows:
            return
        current = self.results.currentIndex().row()
        step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 5,
                Qt.Key.Key_PageUp: -5}[Qt.Key(key)]
        row = min(rows - 1, max(0, (current if current >= 0 else -1) + step))
        index = self.model.index(row, 0)
        self.results.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.results.scrollTo(index)

    def _clear_search(self) -> None:
        if self.search_box.text():
            self.search_box.clear()
        self.focus_search()

    # -- searching --------------------------------------------------------------------------

    def _search_now(self) -> None:
        query = self.search_box.text().strip()
        if not query:
            self.model.clear()
            self.query_words.set_query("", [])
            self.notice.hide()
            self.preview.clear()
            self._show_center()
            return
        self._explain_timer.stop()
        self._explain_id = -1
        if self._in_flight is not None:
            # One search at a time: the engine answers a connection's requests in order, so
            # a burst of keystrokes would queue searches for text already gone. The newest
            # text goes out when the answer in flight arrives.
            self._pending = True
            return
        # Results first, without explanations, so they paint at once; the explanations
        # (a forward pass over the top passages) follow once typing pauses.
        self._pending = False
        self._search_id = self.link.search(query, explain=False, **self.filters.options())
        self._in_flight = self._search_id

    def _request_explanations(self) -> None:
        query = self.model.query
        if query and query == self.search_box.text().strip() and self._in_flight is None:
            self._explain_id = self.link.search(query, explain=True, **self.filters.options())

    def _settle_search(self, request_id: int) -> None:
        """The search in flight is answered (or failed): send the newest text if it changed."""
        if request_id == self._in_flight:
            self._in_flight = None
            if self._pending:
                self._search_now()

    def _on_link_results_received(self, request_id: int, response: dict[str, Any]) -> None:
        self._settle_search(request_id)
        if request_id == self._explain_id:
            self.model.merge_explanations(response)
            self._show_query_words(response)
            return
        if request_id != self._search_id:
            return  # an older answer overtaken by a newer query
        if response.get("query", "").strip() != self.search_box.text().strip():
            return
        self.model.set_response(response)
        if response.get("results") and response.get("mode") != "keyword":
            self._explain_timer.start()
        self._show_query_words(response)
        if response.get("results") and not response.get("confident", True):
            self.notice.setText("No confident match — these are the closest passages.")
            self.notice.show()
        elif not response.get("results"):
            self.notice.setText(f"Nothing found for “{response.get('query', '')}”.")
            self.notice.show()
        else:
            self.notice.hide()
        self._show_center()
        if self.model.rowCount():
            self.results.selectionModel().setCurrentIndex(
                self.model.index(0, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            self.results.scrollToTop()
        self.results.viewport().repaint()
        self.results_painted.emit(request_id)

    def _show_query_words(self, response: dict[str, Any]) -> None:
        first = response["results"][0] if response.get("results") else None
        spans = ((first or {}).get("explanation") or {}).get("query_spans", [])
        self.query_words.set_query(response.get("query", ""), spans)

    def _on_link_request_failed(self, request_id: int, code: str, message: str) -> None:
        self._settle_search(request_id)
        if request_id == self._search_id:
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

    def _on_results_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.preview.clear()
            return
        path = current.data(ResultRole.Path)
        start, end = current.data(ResultRole.Start), current.data(ResultRole.End)
        spans = current.data(ResultRole.PassageSpans) or []
        keywords = current.data(ResultRole.KeywordSpans) or []
        # The passage now, the whole file's text when it arrives.
        self.preview.show_passage(path, current.data(ResultRole.Text), 0, end - start, spans,
                                  keywords)
        request = self.link.request_text(path)
        self._text_requests = {request: (path, start, end, spans, keywords)}

    def _on_link_text_received(self, request_id: int, path: str, text: str) -> None:
        wanted = self._text_requests.pop(request_id, None)
        current = self.results.currentIndex()
        if wanted is None or not current.isValid() or current.data(ResultRole.Path) != path:
            return
        _, start, end, spans, keywords = wanted
        self.preview.show_passage(path, text, start, end, spans, keywords)  # passage-relative

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
        index = self.results.currentIndex()
        if index.isValid():
            self._open_path(index.data(ResultRole.Path))

    def _reveal_current(self) -> None:
        index = self.results.currentIndex()
        if index.isValid():
            self._reveal_path(index.data(ResultRole.Path))

    def _open_path(self, path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def _reveal_path(self, path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    # -- folders, errors, settings ----------------------------------------------------------

    def _pin(self, path: str) -> None:
        self.link.pin(path)
        self.engine_label.setText(f"Looking through {Path(path).name or path}…")

    def _show_errors(self) -> None:
        if self._errors_dialog is None:
            self._errors_dialog = ErrorsDialog(self)
            self._errors_dialog.resize(900, 420)
            self._errors_dialog.retry_requested.connect(self._on_errors_retry_requested)
            self._errors_dialog.reveal_requested.connect(self._reveal_path)
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
        self._in_flight, self._pending = None, False  # answers from before are not coming
        self.link.request_status()
        if self.search_box.text().strip():
            self._search_now()  # the user keeps their query across an engine restart

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
