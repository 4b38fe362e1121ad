"""The engine at work in `dowse serve`: what each request does, on the caller's thread.

Searches, status and previews run on the callers' threads, each with its own SQLite
connection; the worker steps aside while a search runs. Requests that change the index (pin,
unpin, re-index, pause) are handed to the one writer, engine.serve.worker, as commands, so no
two threads write the same rows.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from engine import __version__
from engine.config import Config
from engine.ingest.status import folder_rows
from engine.search.searcher import MODES, Searcher, SearchFilters, SearchResponse, UnknownModeError
from engine.serve import protocol
from engine.serve.query_gate import QueryGate
from engine.serve.worker import IndexWorker
from engine.store import Store
from engine.store import queue as work_queue


class EngineService:
    def __init__(
        self,
        data_dir: Path,
        config: Config,
        publish: Callable[[protocol.Message], None],
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self._local = threading.local()
        self._stores: list[Store] = []
        self._stores_lock = threading.Lock()
        self.gate = QueryGate()
        self.started = time.time()
        self.worker = IndexWorker(data_dir, config, publish, self.gate, self._thread_store)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        with self._stores_lock:
            for store in self._stores:
                store.close()

    def _thread_store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store.open_in(self.data_dir)
            self._local.store = store
            with self._stores_lock:
                self._stores.append(store)
        return store

    # -- reads ------------------------------------------------------------------------------

    def search(self, request: protocol.Search) -> SearchResponse:
        filters = SearchFilters(
            folders=request.folders, suffixes=request.types,
            modified_after=request.modified_after, modified_before=request.modified_before,
        )
        mode = request.mode or self.config.search.default_mode
        if mode not in MODES:
            raise UnknownModeError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        store = self._thread_store()
        semantic = self.worker.semantic
        if semantic is None and mode != "keyword":
            # The model is still loading: answer from the keyword side now rather than wait.
            mode = "keyword"
        reader = semantic.reader(store) if semantic is not None and mode != "keyword" else None
        searcher = Searcher(store, reader, self.config.search.candidates)
        with self.gate.query():
            return searcher.search(
                request.query, mode, request.k or self.config.search.k, filters,
                explain=request.explain and reader is not None,
            )

    def file_text(self, path: str) -> str | None:
        return self._thread_store().file_text(path)

    def errors(self, limit: int) -> list[dict[str, str]]:
        rows = self._thread_store().errors(limit)
        return [{"path": p, "state": s, "reason": r} for p, s, r in rows]

    def status(self) -> dict[str, Any]:
        store = self._thread_store()
        counts = store.counts()
        queued = work_queue.queue_length(store.conn)
        rate = self.worker.stats.rate()
        semantic = self.worker.semantic
        return {
            "data_dir": str(self.data_dir),
            "engine": {
                "state": "running", "pid": os.getpid(), "version": __version__,
                "activity": "paused" if self.worker.paused else self.worker.activity,
                "uptime_seconds": round(time.time() - self.started, 1),
            },
            **self.worker.model,
            **counts,
            "errors": counts["failed"],
            "queue": queued,
            "rate": round(rate, 2),
            "eta_seconds": round(queued / rate, 1) if rate > 0 and queued else None,
            "current": self.worker.stats.current,
            "embedded_passages": semantic.embedded_passages if semantic is not None else 0,
            "reused_passages": self.worker.totals["reused"],
            "moved_files": self.worker.totals["moved"],
            "folder_list": folder_rows(
                store, self.worker.watch_modes(), self.worker.paused_folder_paths()
            ),
        }

    # -- changes, run by the worker ---------------------------------------------------------

    def pin(self, path: str) -> Future[str]:
        root = Path(os.path.abspath(os.path.expanduser(path)))
        if not root.is_dir():
            raise ValueError(f"not a folder: {path}")
        return self.worker.submit(lambda: self.worker.pin_folder(root))

    def unpin(self, path: str) -> Future[str]:
        root = os.path.abspath(os.path.expanduser(path))
        return self.worker.submit(lambda: self.worker.unpin_folder(root, path))

    def reindex(self, path: str) -> Future[str]:
        target = os.path.abspath(os.path.expanduser(path))
        return self.worker.submit(lambda: self.worker.reindex_path(target, path))

    def set_paused(self, paused: bool, path: str | None = None) -> None:
        """Pause or resume all indexing, or one pinned folder's."""
        self.worker.set_paused(paused, path)
