"""The engine's one writer: a low-priority thread that scans, indexes and checkpoints.

Everything that changes the index runs here, in order: commands handed over by requests
(pin, unpin, forget, re-index), scans of pinned folders, the work queue (each file findable by
its words once read), and, when the queue is empty, the meaning phase one batch at a time
(engine/ingest/meaning.py). The model loads beside it; the words do not wait for it. Searches
never run here; the worker steps aside while one runs (engine.serve.query_gate).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from engine.config import Config
from engine.embed.model_dir import resolve_model_dir
from engine.ingest import forget
from engine.ingest.chunk import PassageTokenizer
from engine.ingest.forget import Forgotten, folders_to_forget, forget_folders, purge_traces
from engine.ingest.indexer import FileOutcome, Indexer
from engine.ingest.meaning import MeaningStage
from engine.ingest.ocr_stage import OcrStage
from engine.ingest.status import RunStats
from engine.ingest.walk import FolderWalker
from engine.ingest.watch import FolderWatcher, WatchBatch
from engine.serve import protocol
from engine.serve.changes import queue_batch, requeue_under
from engine.serve.model_loader import load_semantic, model_name
from engine.serve.query_gate import GatedVectors, QueryGate
from engine.serve.worker_events import file_event, progress_event
from engine.serve.writer_health import (
    SPACE_POLL_SECONDS,
    WriterHealth,
    check_database,
    work_through_full_disks,
)
from engine.serve.writer_thread import Inbox, lower_priority
from engine.serve.writer_thread import run as run_command
from engine.store import DiskFullError, Store
from engine.store import queue as work_queue
from engine.store.integrity import is_corruption

if TYPE_CHECKING:
    from engine.search.semantic import SemanticIndex

log = logging.getLogger(__name__)

BATCH_FILES = 32  # queue entries claimed at once; small, so commands never wait long


class IndexWorker:
    def __init__(
        self,
        data_dir: Path,
        config: Config,
        publish: Callable[[protocol.Message], None],
        gate: QueryGate,
        thread_store: Callable[[], Store],
    ) -> None:
        self.data_dir = data_dir
        self.config = config
        self.publish = publish
        self.gate = gate
        self._thread_store = thread_store  # for the watcher's thread
        self._store: Store | None = None  # the worker's own, opened on its thread: see store
        self.health = WriterHealth(data_dir)
        self._checked = threading.Event()  # quick_check is done; the vectors may be read
        self._model_store: Store | None = None
        self.stats = RunStats()
        self.activity = "starting"
        self.semantic: SemanticIndex | None = None
        self.meaning: MeaningStage | None = None  # once the model is loaded
        self.model: dict[str, str] = {"model": "", "device": "", "precision": "", "note": ""}
        self.totals = {"embedded": 0, "reused": 0, "moved": 0, "removed": 0}
        self._tokenizer = PassageTokenizer.from_model_dir(
            resolve_model_dir(config.embed.model_path), config.chunk.max_tokens
        )
        # The extraction children: text, and OCR for pictures of pages, read after text.
        self.ocr = OcrStage(lambda: self.store, config, data_dir / "cache")
        self._inbox = Inbox()
        self._cond = self._inbox.cond
        self._scans: set[int] = set()
        self.paused = False
        self._paused_folders: set[int] = set()
        self._roots: dict[int, Path] = {}  # folder id -> pinned path, for watched folders
        watch = config.watch
        self._watcher = FolderWatcher(self._on_watcher_batch, debounce=watch.debounce_seconds,
                                      poll_interval=watch.poll_seconds)
        self._thread = threading.Thread(target=self._run, name="dowse-worker", daemon=True)
        self._loader = threading.Thread(target=self._load_model, name="dowse-model", daemon=True)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The worker's own connection (DatabaseCorruptError when the file cannot be opened)."""
        if self._store is None:
            self._store = Store.open_in(self.data_dir)
        return self._store

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._inbox.stop()
        self._watcher.close()
        if self._thread.is_alive():
            self._thread.join()
        self.ocr.close()
        if self._store is not None and not self.health.damaged:
            try:  # what was removed since the last save point is purged before the exit
                self._checkpoint()
            except (OSError, sqlite3.Error) as exc:  # a full disk: the purge stays due
                log.warning("the purge did not finish (%s); it runs at the next start", exc)
        if self.semantic is not None:
            try:
                self.semantic.close()
            except OSError as exc:  # a full disk: SQLite holds every vector, the file is derived
                log.warning("the vector index was not saved (%s); it is rebuilt at start", exc)
        if self._model_store is not None:
            self._model_store.close()
        if self._store is not None:
            self._store.close()

    # -- commands (built on any thread, run on the worker's) ---------------------------------

    def submit(self, command: Callable[[], str]) -> Future[str]:
        return self._inbox.submit(command)

    def pin_folder(self, root: Path) -> str:
        folder_id = self.store.pin_folder(str(root))
        mode = self._watch(folder_id, root)
        # Scanned now, so when the reply arrives the folder's work is already queued.
        queued = self._scan(folder_id)
        return f"pinned {root}: {queued} file(s) to look at, watched {mode}"

    def forget_paths(self, paths: Sequence[str], exact: bool = False) -> Forgotten:
        """Unpin (and stop watching) the folders at, or unless `exact` also below, `paths`,
        remove what they held, and purge it before the reply (engine.ingest.forget)."""
        roots = folders_to_forget([p for _, p, _ in self.store.folders()], paths, exact)
        forgotten = forget_folders(self.store, self.semantic, roots, self._unwatch)
        self._checkpoint()
        return forgotten

    def _unwatch(self, folder_id: int, root: str) -> None:
        self._watcher.unwatch(Path(root))
        self._roots.pop(folder_id, None)
        self._scans.discard(folder_id)
        self.publish(protocol.FolderState(path=root, state="unpinned", watch="none"))

    def reindex_path(self, target: str, path: str) -> str:
        queued = requeue_under(self.store, target)
        if not queued:
            raise ValueError(f"nothing indexed at {path}")
        return f"{queued} file(s) queued"

    def set_paused(self, paused: bool, path: str | None = None) -> None:
        """Pause or resume all indexing, or one pinned folder's."""
        if path is None:
            with self._cond:
                self.paused = paused
                self._inbox.notify()
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
                self._inbox.notify()
        for folder_id, root in targets:
            self._publish_folder(folder_id, root, "paused" if paused else "indexing")

    def watch_modes(self) -> dict[str, str]:
        return {str(r): self._watcher.mode(r) or "none" for r in list(self._roots.values())}

    def paused_folder_paths(self) -> set[str]:
        everything = self.paused
        return {
            str(r) for f, r in list(self._roots.items()) if everything or f in self._paused_folders
        }

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
        try:
            scan = queue_batch(batch, folder_id, self._thread_store(), self.config.walk)
        except DiskFullError:
            scan = True  # not queued: a scan finds these changes once there is space
        with self._cond:
            if scan:
                self._scans.add(folder_id)
            self._inbox.notify()

    # -- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        lower_priority()
        # The model loads beside the check and the worker, so pins and scans are taken at
        # once; the queue itself waits for the model.
        self._loader.start()
        try:
            if self._database_sound():
                for folder_id, path, _state in self.store.folders():
                    self._watch(folder_id, Path(path))
                if self.activity != "failed":  # the loader may have failed already
                    self.activity = "loading model"
                work_through_full_disks(self._work, self.health, self._inbox, self._wait_for_space)
        except Exception as exc:
            if not is_corruption(exc):
                log.exception("the indexing worker stopped on an unexpected error")
                self.activity = "failed"
                return
            log.error("the index database is damaged: %s", exc)
            self.health.report_damage(str(exc))
        if self.health.damaged:  # nothing is written to it until a rebuild: commands fail
            self.activity = "database damaged"
            self._inbox.idle_while(lambda: True, SPACE_POLL_SECONDS, self.health.refusal())

    def _database_sound(self) -> bool:
        """quick_check before the first write: it reads the whole file (seconds on a large
        index), so it runs here while searches are already answered."""
        self.activity = "checking the index"
        try:
            return check_database(self.store.conn, self.health)
        finally:
            self._checked.set()

    def _wait_for_space(self) -> None:
        self.activity = "waiting for disk space"

    def _load_model(self) -> None:
        lower_priority()
        self.publish(protocol.ModelLoading(model=model_name(self.config)))
        try:
            loaded = load_semantic(
                self.data_dir, self.config, lambda: self._checked.wait() and not self.health.damaged
            )
        except Exception as exc:
            if is_corruption(exc):
                return  # the worker reports it; nothing is indexed until a rebuild
            log.exception("the model could not be loaded")
            self.model["note"] = f"model failed to load: {exc}"
            self.activity = "failed"
            return
        self._model_store = loaded.store
        self.model = loaded.record
        with self._cond:
            self.semantic = loaded.semantic
            self._inbox.notify()
        loaded.semantic.drop_unstored()  # removals committed while it loaded; saved at idle
        self.publish(protocol.ModelReady(
            model=loaded.record["model"], device=loaded.record["device"],
            precision=loaded.record["precision"],
        ))

    def _indexer(self) -> Indexer:
        vectors = GatedVectors(self.semantic, self.gate) if self.semantic is not None else None
        return Indexer(
            self.store, self.config, self._tokenizer, vectors,
            extract=self.ocr.extract, on_file=self._on_file, prefetch=self.ocr.prefetch,
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
                if self._inbox.stopping:
                    break
                command = self._inbox.take()
                paused = self.paused
            if command is not None:
                run_command(*command)
                continue
            if paused:
                self._inbox.wait(None)
                continue
            if time.monotonic() - last_scan > reconcile_every:
                self._scans.update(self._roots)
                last_scan = time.monotonic()
            if self._scans:
                self._scan(next(iter(self._scans)))
                continue
            if waiting_for_model and self.semantic is not None:
                # Files were findable by their words meanwhile; now they get their meaning.
                waiting_for_model = False
                indexer = self._indexer()  # now with the semantic side
                self.meaning = MeaningStage(self.store, GatedVectors(self.semantic, self.gate))
            self.ocr.after_batch(indexer)  # archive members; scans with pages left
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
            if self.meaning is not None and self.meaning.step():
                # One batch at a time, so a file saved meanwhile is findable at once.
                self.activity = "embedding"
                self.stats.begin_if_idle()
                self._publish_progress()
                continue
            if waiting_for_model:
                if self.activity != "failed":
                    self.activity = "loading model"
                self._inbox.wait(0.5)
                continue
            if self.activity != "idle":
                self._checkpoint()
                forget.refresh_keywords(self.store, self.config.search, forget.REBUILD_SPACING)
                last_checkpoint = time.monotonic()
                self.activity = "idle"
                self.ocr.close()  # its extraction children go while idle; the next file starts one
                self.stats.end()
                self._publish_progress()
                for folder_id, root in list(self._roots.items()):
                    self._publish_folder(folder_id, root, "idle")
            self._inbox.wait(max(0.0, reconcile_every - (time.monotonic() - last_scan)))

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
        # Without the model the vector file is pruned directly, unless it is being opened.
        loading = self.semantic is None and self._loader.is_alive()
        purge_traces(self.store, self.semantic, None if loading else self.data_dir,
                     self.config.index)

    # -- events -----------------------------------------------------------------------------

    def _on_file(self, outcome: FileOutcome) -> None:
        if (event := file_event(outcome, self.stats)) is not None:
            self.publish(event)

    def _publish_progress(self) -> None:
        self.publish(progress_event(self.store, self.stats, self.ocr, self.meaning))

    def _publish_folder(self, folder_id: int, root: Path, state: str) -> None:
        watch = self._watcher.mode(root) or "none"
        self.publish(protocol.FolderState(path=str(root), state=state, watch=watch))
