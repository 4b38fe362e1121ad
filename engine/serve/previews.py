"""The engine's answers about one indexed file: "more like this" and a page drawn with its match.

Both run on the caller's thread, each reading through that thread's store. Pages are drawn in
a child process of their own (the extraction child's machinery, engine/extract/isolated.py),
so a PDF that hangs or crashes pdfium cannot take the engine with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from engine.config import Config
from engine.extract import ExtractError
from engine.extract.isolated import IsolatedExtractor
from engine.extract.page_image import PageRequest, RenderedPage
from engine.search.regions import has_ocr_regions, ocr_regions
from engine.search.searcher import SearchResponse
from engine.search.similar import similar_passages
from engine.serve import protocol
from engine.serve.query_gate import QueryGate
from engine.store import Store

if TYPE_CHECKING:
    from engine.search.semantic import SemanticIndex

# Room left in a reply for everything but the picture: the path, the regions, the envelope.
REPLY_ROOM = 64 * 1024
DRAWN_KINDS = frozenset({"pdf", "image"})


class Previews:
    def __init__(
        self,
        config: Config,
        store: Callable[[], Store],
        semantic: Callable[[], SemanticIndex | None],
        gate: QueryGate,
    ) -> None:
        self.config = config
        self._store = store
        self._semantic = semantic
        self._gate = gate
        self._renderer: IsolatedExtractor | None = None
        self._lock = threading.Lock()

    def similar(self, request: protocol.Similar) -> SearchResponse:
        semantic = self._semantic()
        if semantic is None:
            raise ValueError("the model is still loading; ask again in a moment")
        store = self._store()
        with self._gate.query():
            return similar_passages(
                store, semantic.reader(store), request.path, request.page, request.start,
                request.k or self.config.search.k, self.config.search.candidates,
            )

    def page(self, request: protocol.GetPage) -> protocol.PageImage:
        store = self._store()
        row = store.file_by_path(request.path)
        if row is None or row.state != "indexed" or row.kind not in DRAWN_KINDS:
            raise ValueError(f"not an indexed PDF or picture: {request.path}")
        marked = request.start is not None and request.end is not None
        scanned = has_ocr_regions(store, request.path, request.page)
        passage = None
        if marked and not scanned:
            text = store.file_text(request.path) or ""
            passage = text[request.start : request.end] or None
        try:
            drawn = self._render(PageRequest(
                request.path, request.page, passage, str(row.kind), request.width,
                protocol.MAX_MESSAGE_BYTES - REPLY_ROOM - len(request.path.encode()) * 2,
            ))
        except ExtractError as exc:
            raise ValueError(f"cannot draw page {request.page} of {request.path}: {exc}") from exc
        regions = drawn.regions
        if marked and scanned:
            found = ocr_regions(store, request.path, request.page, request.start, request.end)
            regions = tuple((r.x0, r.y0, r.x1, r.y1) for r in found)
        return protocol.PageImage(
            id=request.id, path=request.path, page=request.page, png=drawn.base64(),
            width=drawn.width, height=drawn.height, regions=regions,
        )

    def close(self) -> None:
        with self._lock:
            renderer, self._renderer = self._renderer, None
        if renderer is not None:
            renderer.close()

    def _render(self, request: PageRequest) -> RenderedPage:
        with self._lock:
            if self._renderer is None:
                extract = self.config.extract
                self._renderer = IsolatedExtractor(
                    extract.timeout_seconds, extract.max_file_bytes,
                    target="engine.extract.page_image:render_page",
                    max_memory=extract.max_memory_bytes,
                )
            renderer = self._renderer
        # The child answers one request at a time (the renderer's own lock).
        return cast(RenderedPage, renderer.call(request))
