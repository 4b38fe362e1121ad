"""Decides when the search box's text goes to the engine and which answers still count, so the
main window only has to paint them."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLineEdit

from desktop.engine_link import EngineLink
from desktop.filter_bar import FilterBar
from desktop.results_model import ResultsModel
from desktop.signals import emit_signal

SEARCH_DEBOUNCE_MS = 40  # typing pauses shorter than this do not send a search
# Explanations (a forward pass over the top passages, ~200 ms on a 2-core CPU) are asked for
# once typing pauses this long, so they never hold up the next keystroke's search.
EXPLAIN_AFTER_MS = 250
# An answer given by keywords alone while the engine's semantic side was still starting
# ("not_ready") is asked again this often until the whole answer comes.
NOT_READY_RETRY_MS = 1500


class SearchFlow(QObject):
    """Searches for what is typed: debounced, one at a time, with explanations asked for once
    typing pauses; answers overtaken by newer text are dropped."""

    answered = Signal(int, object)  # (request id, response dict) for what is in the search box
    explained = Signal(object)  # response dict: the answer on screen again, with explanations
    emptied = Signal()  # the search box holds no query: nothing to show

    def __init__(self, link: EngineLink, search_box: QLineEdit, filters: FilterBar,
                 model: ResultsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._link = link
        self._search_box = search_box
        self._filters = filters
        self._model = model  # what is on screen: explanations are asked for its query
        self.search_id = -1  # the answer on its way for what is in the search box
        self._in_flight: int | None = None  # the one search request not yet answered
        self._pending = False  # the text changed while a search was in flight
        self._explain_id = -1  # the same query again, with explanations

        self._debounce = QTimer(self, singleShot=True, interval=SEARCH_DEBOUNCE_MS)
        self._explain_timer = QTimer(self, singleShot=True, interval=EXPLAIN_AFTER_MS)
        self._not_ready_timer = QTimer(self, singleShot=True, interval=NOT_READY_RETRY_MS)
        self._not_ready_timer.timeout.connect(self.search_now)
        link.model_ready.connect(self._on_link_model_ready)
        search_box.textChanged.connect(self._on_search_box_text_changed)
        filters.changed.connect(self.search_now)
        self._debounce.timeout.connect(self.search_now)
        self._explain_timer.timeout.connect(self._on_explain_timer_timeout)
        link.results_received.connect(self._on_link_results_received)

    def search_now(self) -> None:
        query = self._search_box.text().strip()
        if not query:
            emit_signal(self.emptied)
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
        self.search_id = self._link.search(query, explain=False, **self._filters.options())
        self._in_flight = self.search_id

    def settle(self, request_id: int) -> None:
        """The search in flight is answered (or failed): send the newest text if it changed."""
        if request_id == self._in_flight:
            self._in_flight = None
            if self._pending:
                self.search_now()

    def forget_in_flight(self) -> None:
        """The engine restarted: answers to what was sent before are not coming."""
        self._in_flight, self._pending = None, False

    def _on_search_box_text_changed(self, _text: str) -> None:
        self._debounce.start()

    def _on_explain_timer_timeout(self) -> None:
        query = self._model.query
        if query and query == self._search_box.text().strip() and self._in_flight is None:
            self._explain_id = self._link.search(query, explain=True, **self._filters.options())

    def _on_link_results_received(self, request_id: int, response: dict[str, Any]) -> None:
        self.settle(request_id)
        if request_id == self._explain_id:
            emit_signal(self.explained, response)
            return
        if request_id != self.search_id:
            return  # an older answer overtaken by a newer query
        if response.get("query", "").strip() != self._search_box.text().strip():
            return
        if response.get("not_ready"):
            self._not_ready_timer.start()  # keywords for now; the whole answer once it can come
        elif response.get("results") and response.get("mode") != "keyword":
            self._explain_timer.start()
        emit_signal(self.answered, request_id, response)

    def _on_link_model_ready(self, _model: str, _device: str, _precision: str) -> None:
        if self._not_ready_timer.isActive():
            self._not_ready_timer.stop()
            self.search_now()
