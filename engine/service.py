"""The engine at work in `dowse serve`: watches pinned folders and works through the queue.

One worker thread, at low OS priority, owns the index's writes: scans, the queue and the
vector checkpoint; the model loads beside it on its own connection. Requests that change the
index (pin, unpin, re-index) are handed to it as commands, so no two threads write the same
rows. Searches run on the callers'
threads with their own SQLite connections, and the worker steps aside while one runs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine import __version__, protocol
from engine.chunk import PassageTokenizer
from engine.config import Config
from engine.embed.model_dir import resolve_model_dir
from engine.extract.isolated import IsolatedExtractor
from engine.indexer import FileOutcome, Indexer
from engine.query_gate import GatedVectors, QueryGate
from engine.search import MODES, Searcher, SearchFilters, SearchResponse, UnknownModeError
from engine.status import RunStats, folder_rows
from engine.store import Store
from engine.store import queue as work_queue
from engine.walk import FolderWalker
from engine.watch import FolderWatcher, WatchBatch

if TYPE_CHECKING:
    from engine.semantic import SemanticIndex

log = logging.getLogger(__name__)

BATCH_FILES = 32  # queue entries claimed at once; small, so commands never wait long
WORKER_NICE = 10


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
        self.store = Store.open_in(data_dir)  # the worker's; other threads use _thread_store
        self._local = threading.local()
        self._stores: list[Store] = []
        self._stores_lock = threading.Lock()
        self.gate = QueryGate()
        self.stats = RunStats()
        self.activity = "starting"
        self.started = time.time()
        self.semantic: SemanticIndex | None = None
        self.model: dict[str, str] = {"model": "", "device": "", "precision": "", "note": ""}
        self.totals = {"embedded": 0, "reused": 0, "moved": 0, "removed": 0}
        self._tokenizer = PassageTokenizer.from_model_dir(
            resolve_model_dir(config.embed.model_path), config.chunk.max_tokens
        )
        self._extractor = IsolatedExtractor(
            config.extract.timeout_seconds, config.extract.max_file_bytes
        )
        self._cond = threading.Condition()
        self._commands: deque[tuple[Callable[[], str], Future[str]]] = deque()
        self._scans: set[int] = set()
        self._paused = False
        self._paused_folders: set[int] = set()
        self._stopping = False
        self._roots: dict[int, Path] = {}  # folder id -> pinned path, for watched folders
        self._watcher = FolderWatcher(
            self._on_watcher_batch,
            debounce=config.watch.debounce_seconds,
            poll_interval=config.watch.poll_seconds,
        )
        self._worker = threading.Thread(target=self._run, name="dowse-worker", daemon=True)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        for folder_id, path, _state in self.store.folders():
            self._watch(folder_id, Path(path))
        self._worker.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._watcher.close()
        if self._worker.is_alive():
            self._worker.join()
        self._extractor.close()
        if self.semantic is not None:
            self.semantic.close()
        with self._stores_lock:
            for store in self._stores:
                store.close()
        self.store.close()

    def _thread_store(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store.open_in(self.data_dir)
            self._local.store = store
            with self._stores_lock:
                self._stores.append(store)
        return store

    # -- requests (any thread) --------------------------------------------------------------

    def search(self, request: protocol.Search) -> SearchResponse:
        filters = SearchFilters(
            folders=request.folders, suffixes=request.types,
            modified_after=request.modified_after, modified_before=request.modified_before,
        )
        mode = request.mode or self.config.search.default_mode
        if mode not in MODES:
            raise UnknownModeError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        store = self._thread_store()
        semantic = self.semantic
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

    def pin(self, path: str) -> Future[str]:
        root = Path(os.path.abspath(os.path.expanduser(path)))
        if not root.is_dir():
            raise ValueError(f"not a folder: {path}")

        def command() -> str:
            folder_id = self.store.pin_folder(str(root))
            mode = self._watch(folder_id, root)
            # Scanned now, so when the reply arrives the folder's work is already queued.
            queued = self._scan(folder_id)
            return f"pinned {root}: {queued} file(s) to look at, watched {mode}"

        return self._submit(command)

    def unpin(self, path: str) -> Future[str]:
        root = os.path.abspath(os.path.expanduser(path))

        def command() -> str:
            match = [fid for fid, p, _ in self.store.folders() if p == root]
            if not match:
                raise ValueError(f"not pinned: {path}")
            self._watcher.unwatch(Path(root))
            self._roots.pop(match[0], None)
            self._scans.discard(match[0])
            removed = self.store.unpin_folder(root) or []
            if removed and self.semantic is not None:
                self.semantic.apply(removed, [], np.empty((0, 0), np.float32))
            self.publish(protocol.FolderState(path=root, state="unpinned", watch="none"))
            return f"unpinned {root}; {len(removed)} passages removed"

        return self._submit(command)

    def reindex(self, path: str) -> Future[str]:
        target = os.path.abspath(os.path.expanduser(path))

        def command() -> str:
            rows = self.store.files_under(target)
            with self.store.transaction() as conn:
                # Clearing the hash makes the worker read the file again, not trust its mtime.
                conn.executemany(
                    "UPDATE files SET hash = NULL, size = -1 WHERE id = ?",
                    [(r.id,) for r in rows],
                )
                work_queue.enqueue(
                    conn, [(r.path, r.folder_id, r.size, r.mtime) for r in rows],
                    work_queue.PRIORITY_EDIT,
                )
            if not rows:
                raise ValueError(f"nothing indexed at {path}")
            return f"{len(rows)} file(s) queued"

        return self._submit(command)

    def set_paused(self, paused: bool, path: str | None = None) -> None:
        """Pause or resume all indexing, or one pinned folder's."""
        if path is None:
            with self._cond:
                self._paused = paused
                self._cond.notify_all()
            targets = list(self._roots.items())
        else:
            root = Path(os.path.abspath(os.path.expanduser(path)))
            targets = [(f, r) for f, r in list(self._roots.items()) if r == root]
            if not targets:
                raise ValueError(f"not pinned: {path}")
            with self._cond:
                (self._paused_folders.add if paused else self._paused_folders.discard)(
                    targets[0][0]
                )
                self._cond.notify_all()
        for folder_id, root in targets:
            self._publish_folder(folder_id, root, "paused" if paused else "indexing")

    def file_text(self, path: str) -> str | None:
        return self._thread_store().file_text(path)

    def errors(self, limit: int) -> list[dict[str, str]]:
        rows = self._thread_store().errors(limit)
        return [{"path": p, "state": s, "reason": r} for p, s, r in rows]

    def status(self) -> dict[str, Any]:
        store = self._thread_store()
        counts = store.counts()
        queued = work_queue.queue_length(store.conn)
        rate = self.stats.rate()
        watch = {str(r): self._watcher.mode(r) or "none" for r in list(self._roots.values())}
        semantic = self.semantic
        return {
            "data_dir": str(self.data_dir),
            "engine": {
                "state": "running", "pid": os.getpid(), "version": __version__,
                "activity": "paused" if self._paused else self.activity,
                "uptime_seconds": round(time.time() - self.started, 1),
            },
            **self.model,
            **counts,
            "errors": counts["failed"],
            "queue": queued,
            "rate": round(rate, 2),
            "eta_seconds": round(queued / rate, 1) if rate > 0 and queued else None,
            "current": self.stats.current,
            "embedded_passages": semantic.embedded_passages if semantic is not None else 0,
            "reused_passages": self.totals["reused"],
            "moved_files": self.totals["moved"],
            "folder_list": folder_rows(store, watch, self._paused_folders_paths()),
        }

    def _paused_folders_paths(self) -> set[str]:
        everything = self._paused
        return {
            str(r) for f, r in list(self._roots.items()) if everything or f in self._paused_folders
        }

    def _submit(self, command: Callable[[], str]) -> Future[str]:
        future: Future[str] = Future()
        with self._cond:
            self._commands.append((command, future))
            self._cond.notify_all()
        return future

    # -- watching ---------------------------------------------------------------------------

    def _watch(self, folder_id: int, root: Path) -> str:
        self._roots[folder_id] = root
        if not root.is_dir():
            self._publish_folder(folder_id, root, "missing")
            return "none"
        mode = self._watcher.mode(root) or self._watcher.watch(root)
        self._publish_folder(folder_id, root, "scanning")
        return mode

    def _on_watcher_batch(self, batch: WatchBatch) -> None:
        """On the watcher's thread: queue what changed; the worker does the rest."""
        folder_id = next((f for f, r in list(self._roots.items()) if r == batch.root), None)
        if folder_id is None:
            return
        if batch.overflowed or batch.rescan or any(
            p.name == ".gitignore" for p in (*batch.changed, *batch.removed)
        ):
            with self._cond:
                self._scans.add(folder_id)
                self._cond.notify_all()
        paths = set(batch.changed) | set(batch.removed)
        for src, dest in batch.moved:
            paths.update((src, dest))  # the worker recognises the move by content
        if not paths:
            return
        store = self._thread_store()
        walker = FolderWalker(batch.root, self.config.walk)
        entries = []
        for path in paths:
            if walker.is_included(path) or store.file_by_path(str(path)) is not None:
                entries.append((str(path), folder_id, 0, time.time()))
        if entries:
            with store.transaction() as conn:
                work_queue.enqueue(conn, entries, work_queue.PRIORITY_EDIT)
            with self._cond:
                self._cond.notify_all()

    # -- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
        except (AttributeError, OSError):  # not Linux: the thread keeps normal priority
            pass
        try:
            # The model loads beside the worker, so pins and scans are taken at once; the
            # queue itself waits for the model.
            self.activity = "loading model"
            threading.Thread(target=self._load_model, name="dowse-model", daemon=True).start()
            self._work()
        except Exception:
            log.exception("the indexing worker stopped on an unexpected error")
            self.activity = "failed"

    def _load_model(self) -> None:
        from engine.embed.transformer import load_encoder
        from engine.semantic import SemanticIndex

        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
        except (AttributeError, OSError):
            pass
        name = resolve_model_dir(self.config.embed.model_path).name
        self.publish(protocol.ModelLoading(model=name))
        try:
            encoder = load_encoder(self.config.embed, self.data_dir / "cache")
            # Its own connection: the worker writes through self.store meanwhile.
            store = Store.open_in(self.data_dir)
            with self._stores_lock:
                self._stores.append(store)
            semantic = SemanticIndex(store, encoder, self.data_dir, self.config.index)
            semantic.embed_missing()
        except Exception as exc:
            log.exception("the model could not be loaded")
            self.model["note"] = f"model failed to load: {exc}"
            self.activity = "failed"
            return
        device = str(getattr(encoder, "device", "cpu"))
        precision = str(getattr(encoder, "precision", "fp32"))
        self.model = {
            "model": encoder.name, "device": device, "precision": precision,
            "note": encoder.describe(),
        }
        with self._cond:
            self.semantic = semantic
            self._cond.notify_all()
        self.publish(protocol.ModelReady(model=encoder.name, device=device, precision=precision))

    def _indexer(self) -> Indexer:
        vectors = GatedVectors(self.semantic, self.gate) if self.semantic is not None else None
        return Indexer(
            self.store, self.config, self._tokenizer, vectors,
            extract=self._extractor.extract, on_file=self._on_file,
        )

    def _work(self) -> None:
        indexer = self._indexer()
        waiting_for_model = True
        self._scans.update(self._roots)  # reconcile every pinned folder at start-up
        last_scan = time.monotonic()
        last_checkpoint = time.monotonic()
        reconcile_every = self.config.watch.reconcile_minutes * 60
        while True:
            with self._cond:
                if self._stopping:
                    break
                command = self._commands.popleft() if self._commands else None
                paused = self._paused
            if command is not None:
                self._run_command(*command)
                continue
            if paused:
                self._wait(None)
                continue
            if time.monotonic() - last_scan > reconcile_every:
                self._scans.update(self._roots)
                last_scan = time.monotonic()
            if self._scans:
                self._scan(next(iter(self._scans)))
                continue
            if waiting_for_model:
                if self.semantic is None:
                    if self.activity != "failed":
                        self.activity = "loading model"
                    self._wait(0.5)
                    continue
                waiting_for_model = False
                indexer = self._indexer()  # now with the semantic side
            batch = work_queue.next_batch(
                self.store.conn, BATCH_FILES, skip_folders=tuple(self._paused_folders)
            )
            if batch:
                self.activity = "indexing"
                self.stats.begin_if_idle()
                summary = indexer.index_queued(batch, self._walkers())
                self.stats.done += len(batch)
                self.stats.bytes += summary.bytes
                self.totals["reused"] += summary.reused
                self.totals["moved"] += summary.moved
                self._publish_progress()
                if time.monotonic() - last_checkpoint > self.config.watch.checkpoint_seconds:
                    self._checkpoint()
                    last_checkpoint = time.monotonic()
                continue
            if self.activity != "idle":
                self._checkpoint()
                last_checkpoint = time.monotonic()
                self.activity = "idle"
                self.stats.end()
                self._publish_progress()
                for folder_id, root in list(self._roots.items()):
                    self._publish_folder(folder_id, root, "idle")
            self._wait(max(0.0, reconcile_every - (time.monotonic() - last_scan)))

    def _wait(self, timeout: float | None) -> None:
        with self._cond:
            if not self._stopping and not self._commands:
                self._cond.wait(timeout)

    def _run_command(self, command: Callable[[], str], future: Future[str]) -> None:
        try:
            future.set_result(command())
        except Exception as exc:
            if not isinstance(exc, ValueError | OSError):
                log.exception("engine command failed")
            future.set_exception(exc)

    def _scan(self, folder_id: int) -> int:
        """Queue what changed in a pinned folder since it was last seen; returns how many."""
        self._scans.discard(folder_id)
        root = self._roots.get(folder_id)
        if root is None:
            return 0
        if not root.is_dir():
            # An unmounted drive looks like an empty folder: keep its index until it is back.
            self._publish_folder(folder_id, root, "missing")
            return 0
        self.activity = "scanning"
        self._publish_folder(folder_id, root, "scanning")
        changed, gone = self._indexer().scan_folder(folder_id, root)
        entries = [(str(f.path), folder_id, f.size, f.mtime) for f in changed]
        entries += [(row.path, folder_id, 0, 0.0) for row in gone]
        if entries:
            with self.store.transaction() as conn:
                work_queue.enqueue(conn, entries, work_queue.PRIORITY_SCAN)
        self._publish_folder(folder_id, root, "indexing" if entries else "idle")
        return len(entries)

    def _walkers(self) -> dict[int, FolderWalker]:
        return {fid: FolderWalker(root, self.config.walk) for fid, root in self._roots.items()}

    def _checkpoint(self) -> None:
        if self.semantic is not None:
            self.semantic.checkpoint()

    # -- events -----------------------------------------------------------------------------

    def _on_file(self, outcome: FileOutcome) -> None:
        self.stats.current = outcome.path
        if outcome.state == "indexed":
            self.publish(protocol.FileIndexed(
                path=outcome.path, passages=outcome.passages, embedded=outcome.embedded
            ))
        elif outcome.state == "failed":
            self.stats.failed += 1
            self.publish(protocol.FileFailed(path=outcome.path, reason=outcome.reason))

    def _publish_progress(self) -> None:
        queued = work_queue.queue_length(self.store.conn)
        rate = self.stats.rate()
        self.publish(protocol.Progress(
            queued=queued, done=self.stats.done, failed=self.stats.failed,
            bytes=self.stats.bytes, rate=round(rate, 2),
            eta_seconds=round(queued / rate, 1) if rate > 0 and queued else None,
            current=self.stats.current,
        ))

    def _publish_folder(self, folder_id: int, root: Path, state: str) -> None:
        watch = self._watcher.mode(root) or "none"
        self.publish(protocol.FolderState(path=str(root), state=state, watch=watch))
