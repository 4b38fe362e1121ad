"""Keeps the preview pane on the current result: its passage at once, then the whole file's text
once the engine sends it, and for a PDF or a picture the page the engine draws."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import PurePath
from typing import Any

from PySide6.QtCore import QModelIndex, QObject
from PySide6.QtWidgets import QListView

from desktop.engine_link import EngineLink
from desktop.engine_signals import PreviewText, RenderedPage
from desktop.preview_pane import PreviewPane
from desktop.results_model import path_at, row_at

PAGE_CACHE_SIZE = 12  # pages kept, so stepping up and down the list does not redraw them

PageKey = tuple[str, int, int, int]  # path, page, passage start, passage end
# What the engine draws as pages (engine/serve/previews.py): PDFs, also compressed or inside an
# archive (`a.zip › b.pdf`, `b.pdf.gz`), and pictures OCR read, with the matched words marked.
DRAWN_SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})
PACKED_SUFFIXES = (".gz", ".bz2", ".xz")


def drawn_as_pages(path: str) -> bool:
    """Whether the engine draws `path`'s pages: by its name, less a compression suffix."""
    name = PurePath(path).name.lower()
    for packed in PACKED_SUFFIXES:
        name = name.removesuffix(packed)
    return PurePath(name).suffix in DRAWN_SUFFIXES


class ResultPreview(QObject):
    """Shows the results view's current row in the preview, asking the engine for its file."""

    def __init__(self, link: EngineLink, results: QListView, preview: PreviewPane,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._link = link
        self._results = results
        self._preview = preview
        self._text_requests: dict[int, tuple[str, int, int, list[Any], list[Any]]] = {}
        self._page_requests: dict[int, PageKey] = {}
        self._pages: OrderedDict[PageKey, RenderedPage] = OrderedDict()
        self._wanted_page: PageKey | None = None  # the current row's page, if it has one
        results.selectionModel().currentChanged.connect(self._on_results_current_changed)
        link.text_received.connect(self._on_link_text_received)
        link.page_received.connect(self._on_link_page_received)
        link.request_failed.connect(self._on_link_request_failed)
        preview.page_view_chosen.connect(self._on_preview_page_view_chosen)

    def _on_results_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = row_at(current)  # not through roles: they would mangle a name that is not UTF-8
        if row is None:
            self._wanted_page = None
            self._preview.clear()
            return
        best = row.best
        path, start, end = best.path, best.start, best.end
        spans, keywords = list(best.passage_spans), list(best.keyword_spans)
        page = best.page
        if page is None or not drawn_as_pages(path):
            page = None
        self._wanted_page = (path, page, start, end) if page is not None else None
        self._preview.set_details(page, row.also_in)
        # The passage now, the whole file's text (or a long one's part around it) when it comes.
        self._preview.show_passage(path, best.text, 0, end - start, spans, keywords)
        request = self._link.request_text(path, start, end)
        self._text_requests = {request: (path, start, end, spans, keywords)}
        if self._preview.view_switch.page_chosen:
            self._ask_for_page()

    def _ask_for_page(self) -> None:
        key = self._wanted_page
        if key is None or key in self._page_requests.values():
            return
        cached = self._pages.get(key)
        if cached is not None:
            self._pages.move_to_end(key)
            self._preview.show_page(cached)
            return
        path, page, start, end = key
        width = self._preview.page_view.wanted_width()
        request = self._link.request_page(path, page, start, end, width)
        self._page_requests = {request: key}  # only the newest page is worth waiting for

    def _on_preview_page_view_chosen(self, page: bool) -> None:
        if page:
            self._ask_for_page()

    def _on_link_text_received(self, request_id: int, got: PreviewText) -> None:
        wanted = self._text_requests.pop(request_id, None)
        if wanted is None or path_at(self._results.currentIndex()) != got.path:
            return
        path, start, end, spans, keywords = wanted
        start, end = start - got.offset, end - got.offset  # a long file's part starts later
        if start < 0:
            return  # a part after the passage (an engine bug): the passage alone stays shown
        # The spans stay passage-relative: only the passage moves, to where this text holds it.
        self._preview.show_passage(path, got.text, start, end, spans, keywords)
        self._preview.show_part(got.offset, len(got.text), got.length)

    def _on_link_page_received(self, request_id: int, rendered: RenderedPage) -> None:
        key = self._page_requests.pop(request_id, None)
        if key is None:
            return
        self._pages[key] = rendered
        if len(self._pages) > PAGE_CACHE_SIZE:
            self._pages.popitem(last=False)
        if key == self._wanted_page:
            self._preview.show_page(rendered)

    def _on_link_request_failed(self, request_id: int, _code: str, message: str) -> None:
        key = self._page_requests.pop(request_id, None)
        if key is not None and key == self._wanted_page:
            self._preview.page_failed(message)
