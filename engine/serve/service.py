"""The engine at work in `dowse serve`: what each request does, on the caller's thread.

Searches, status and previews run on the callers' threads, each with its own SQLite
connection; the worker steps aside while a search runs. Requests that change the index (pin,
unpin, re-index, pause) are handed to the one writer, engine.serve.worker, as commands, so no
two threads write the same rows.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from engine import __version__
from engine.config import Config
from engine.core import rebuild_index
from engine.ingest.status import folder_rows, meaning_status
from engine.logs import PRIVATE
from engine.search.response_json import response_dict
from engine.search.searcher import MODES, Searcher, SearchFilters, SearchResponse, UnknownModeError
from engine.search.semantic import SemanticIndex, SemanticReader
from engine.serve import protocol
from engine.serve.member_files import MemberFiles
from engine.serve.previews import Previews
from engine.serve.query_gate import QueryGate
from engine.serve.remote_encoder import EmbedChildError, RemoteEncoder
from engine.serve.worker import IndexWorker
from engine.store import Store
from engine.store import queue as work_queue
from engine.store.integrity import is_corruption, load_folder_list

log = logging.getLogger(__name__)


class EngineService:
    def __init__(
        self,
        data_dir: Path,
        config: Config,
        publish: Callable[[protocol.Message], None],
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self.publish = publish
        self._local = threading.local()
        self._stores: list[Store] = []
        self._stores_lock = threading.Lock()
        self.gate = QueryGate()
        self.started = time.time()
        self.worker = IndexWorker(data_dir, config, publish, self.gate, self._thread_store)
        self.previews = Previews(config, self._thread_store, lambda: self.worker.semantic,
                                 self.gate)
        self.member_files = MemberFiles(data_dir, config, self._thread_store)

    def start(self) -> None:
        self.member_files.clear()  # copies opened under the last engine
        self.worker.start()

    def stop(self) -> None:
        self.previews.close()
        self.member_files.close()
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

    def reply(self, message: protocol.Message) -> protocol.Message:
        """The answer to "more like this", to a page preview and to an Open of a member (the
        server answers its other requests itself); ValueError for a request nothing answers."""
        if isinstance(message, protocol.Similar):
            response = response_dict(self.previews.similar(message))
            return protocol.SearchResults(id=message.id, response=response)
        if isinstance(message, protocol.GetPage):
            return self.previews.page(message)
        if isinstance(message, protocol.OpenMember):
            return self.member_files.open(message)
        raise ValueError(f"unhandled request {message.TYPE}")

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
            # The vectors or the embedding child are still loading: answer from the keyword
            # side now rather than wait, and say so.
            return dataclasses.replace(
                self._search(store, None, request, "keyword", filters), not_ready=("semantic",)
            )
        reader = semantic.reader(store) if semantic is not None and mode != "keyword" else None
        try:
            return self._search(store, reader, request, mode, filters)
        except EmbedChildError as exc:  # the model cannot run now: keywords still can
            log.error("semantic search unavailable: %s", exc)
            return dataclasses.replace(
                self._search(store, None, request, "keyword", filters), not_ready=("semantic",)
            )

    def _search(
        self, store: Store, reader: SemanticReader | None, request: protocol.Search, mode: str,
        filters: SearchFilters,
    ) -> SearchResponse:
        log.debug("search %r in %s mode", request.query, mode, extra=PRIVATE)  # debug logging only
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
        """What `dowse status --json` prints; `problem` says why indexing stopped, if it did."""
        try:
            status = self._status()
        except Exception as exc:
            if not is_corruption(exc):
                raise
            self.worker.health.report_damage(str(exc))
            status = self._damaged_status()
        problem = self.worker.health.problem
        status["problem"] = problem.as_dict() if problem is not None else None
        return status

    def note_damage(self, exc: BaseException) -> None:
        """A request found the database damaged: say so in status from now on."""
        self.worker.health.report_damage(str(exc))

    def _status(self) -> dict[str, Any]:
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
            "semantic_ready": semantic is not None,  # vectors loaded and the model answering
            "embed_process": _embed_process(semantic),
            "reused_passages": self.worker.totals["reused"],
            "moved_files": self.worker.totals["moved"],
            "ocr": self.worker.ocr.status(store),  # "reading scanned pages: 40 of 300"
            # "findable by words: 1,062 of 1,062 files · by meaning: 41%"
            "meaning": meaning_status(
                store, self.worker.meaning, counts["indexed"], counts["files"]
            ),
            "folder_list": folder_rows(
                store, self.worker.watch_modes(), self.worker.paused_folder_paths()
            ),
        }

    def _damaged_status(self) -> dict[str, Any]:
        """Status when the database cannot be read at all: the same keys, nothing counted."""
        counts = dict.fromkeys(("folders", "files", "indexed", "skipped", "failed", "passages"), 0)
        folders = [
            {"path": path, "state": "damaged", "files": 0, "indexed": 0, "failed": 0,
             "skipped": 0, "queued": 0, "watch": "none", "paused": False}
            for path in load_folder_list(self.data_dir)
        ]
        return {
            "data_dir": str(self.data_dir),
            "engine": {
                "state": "running", "pid": os.getpid(), "version": __version__,
                "activity": "database damaged",
                "uptime_seconds": round(time.time() - self.started, 1),
            },
            **self.worker.model, **counts, "folders": len(folders), "errors": 0, "queue": 0,
            "rate": 0.0, "eta_seconds": None, "current": "", "embedded_passages": 0,
            "reused_passages": 0, "moved_files": 0, "folder_list": folders,
        }

    @property
    def damaged(self) -> bool:
        return self.worker.health.damaged

    # -- changes, run by the worker ---------------------------------------------------------

    def pin(self, path: str) -> Future[str]:
        root = Path(os.path.abspath(os.path.expanduser(path)))
        if not root.is_dir():
            raise ValueError(f"not a folder: {path}")
        return self.worker.submit(lambda: self.worker.pin_folder(root))

    def unpin(self, path: str) -> Future[str]:
        """Unpinning forgets the folder for good, purge included: the same as forget."""
        root = os.path.abspath(os.path.expanduser(path))

        def unpin() -> str:
            self.member_files.forget_under([root])
            passages = self.worker.forget_paths([root], exact=True).passages
            return f"unpinned {root}; {passages} passages removed"

        return self.worker.submit(unpin)

    def forget(self, paths: Sequence[str]) -> Future[str]:
        """Unpin and purge, on the worker: the reply comes once the purge holds on disk."""
        if not paths:
            raise ValueError("forget what? give one or more paths")
        targets = [os.path.abspath(os.path.expanduser(p)) for p in paths]
        self.member_files.forget_under(targets)
        return self.worker.submit(lambda: self.worker.forget_paths(targets).describe())

    def reindex(self, path: str) -> Future[str]:
        target = os.path.abspath(os.path.expanduser(path))
        return self.worker.submit(lambda: self.worker.reindex_path(target, path))

    def set_paused(self, paused: bool, path: str | None = None) -> None:
        """Pause or resume all indexing, or one pinned folder's."""
        self.worker.set_paused(paused, path)


def _embed_process(semantic: SemanticIndex | None) -> dict[str, Any]:
    """The embedding child, as status shows it: running or not, its pid, starts so far."""
    encoder = getattr(semantic, "encoder", None)
    if not isinstance(encoder, RemoteEncoder):
        return {"running": False, "pid": None, "starts": 0, "last_start_seconds": None}
    return {"running": encoder.running, "pid": encoder.pid, "starts": encoder.starts,
            "last_start_seconds": round(encoder.last_start_seconds, 3) or None}


def rebuilt_service(old: EngineService) -> tuple[EngineService, str]:
    """Stop a service whose database is damaged, set the file aside for a fresh one with the
    same pinned folders, and start a new service on it; returns it and what was done."""
    if not old.damaged:
        raise ValueError("the index database is not damaged; there is nothing to rebuild")
    old.stop()  # every connection to the damaged file closes before it is moved
    try:
        rebuilt = rebuild_index(old.data_dir)
    finally:
        new = EngineService(old.data_dir, old.config, old.publish)
        new.start()
    log.warning("rebuilt the index; the damaged database is kept as %s", rebuilt.kept_at)
    return new, (
        f"set the damaged index aside as {rebuilt.kept_at}; {len(rebuilt.folders)} pinned "
        "folder(s) kept, indexing them again"
    )
