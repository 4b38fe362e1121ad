"""Watches pinned folders and hands the indexer debounced, coalesced batches of file changes."""

from __future__ import annotations

import errno
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from watchdog import events
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)

THREAD_PREFIX = "dowse-watch"
# inotify_init (EMFILE) and inotify_add_watch (ENOSPC) failures: the system is out of watches,
# which polling works around. Any other error (a missing folder, no permission) is the caller's.
# Watchdog raises them only for the root: a subfolder it cannot watch is skipped without a word,
# so a tree that hits the limit half-way is watched in part and only a reconcile scan sees the
# rest.
_LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE})
# When a folder tree appears at once (mkdir -p, a copied folder) watchdog adds the inner
# folders' watches twice, from its walk and from their own IN_CREATE, and warns on each: a
# harmless race (see gorakhargosh/watchdog#1278) that would otherwise flood the engine's stderr.
DUPLICATE_WATCH_WARNING = r"Callback with id '\d+' already exists for watch"
warnings.filterwarnings("ignore", DUPLICATE_WATCH_WARNING, RuntimeWarning, r"watchdog\.")


@dataclass(frozen=True)
class WatchBatch:
    """What changed under one pinned folder since the previous batch.

    Every source in ``moved`` names a file as it was before the batch, so the moves are
    simultaneous (a swap is two moves): apply them all, then ``removed``, then ``changed``.
    """

    root: Path  # the pinned folder the events came from
    changed: frozenset[Path]  # files created or modified, including new files moved into place
    moved: tuple[tuple[Path, Path], ...]  # (src, dest) renames of files that predate the batch
    removed: frozenset[Path]  # files that predate the batch and no longer exist
    rescan: frozenset[Path]  # folders created, deleted or moved (source and destination)
    overflowed: bool = False  # the OS lost events: rescan the whole root


class _QueueOverflowEvent(events.FileSystemEvent):
    event_type = "overflow"


# Opened/closed events are left out on purpose: the indexer's own reads would wake the watcher.
_TYPES: list[type[events.FileSystemEvent]] = [
    events.FileCreatedEvent, events.FileModifiedEvent, events.FileAttribEvent,
    events.FileDeletedEvent, events.FileMovedEvent, events.DirCreatedEvent,
    events.DirDeletedEvent, events.DirMovedEvent, _QueueOverflowEvent,
]

if sys.platform == "linux":
    from watchdog.observers.inotify import InotifyEmitter, InotifyObserver

    class _InotifyEmitter(InotifyEmitter):
        def on_thread_start(self) -> None:
            super().on_thread_start()
            # On IN_Q_OVERFLOW watchdog 7.1 logs a warning and rebuilds its watches but tells no
            # handler (older versions dropped it silently, watchdog issue #654), so wrap the
            # private watch group's overflow callback to pass it on. Each root has its own
            # observer and so its own inotify queue: an overflow is that root's alone.
            group = getattr(self, "_inotify", None)
            rebuild = getattr(group, "on_queue_overflow", None)
            if group is None or rebuild is None:
                return  # a watchdog without the hook: the reconcile scan still catches up

            def report_overflow() -> None:
                rebuild()
                self.queue_event(_QueueOverflowEvent(self.watch.path))

            group.on_queue_overflow = report_overflow

    class _InotifyObserver(InotifyObserver):
        # InotifyObserver takes no emitter class, so swap it in after the fact.
        def __init__(self) -> None:
            super().__init__()
            self._emitter_class = _InotifyEmitter

    _native_observer: Callable[[], BaseObserver] = _InotifyObserver
else:
    _native_observer = Observer


@dataclass(frozen=True)
class _Change:
    kind: str  # "created", "modified", "deleted", "moved" or "overflow"
    path: Path
    dest: Path | None = None
    is_dir: bool = False


@dataclass(eq=False)
class _Watched:
    root: Path  # as the caller gave it: batches report paths under it
    real_root: Path  # what is watched: some backends report paths through it
    mode: str = ""
    observer: BaseObserver | None = None
    stopped: bool = False
    changes: list[_Change] = field(default_factory=list)
    overflowed: bool = False
    first_at: float = 0.0  # monotonic time of the first unflushed event
    last_at: float = 0.0


class _Handler(events.FileSystemEventHandler):
    def __init__(self, on_event: Callable[[events.FileSystemEvent], None]) -> None:
        self._on_event = on_event

    def dispatch(self, event: events.FileSystemEvent) -> None:
        self._on_event(event)


class FolderWatcher:
    """Watches pinned folders recursively and calls ``on_batch`` from one flush thread.

    A batch is flushed once a folder has been quiet for ``debounce`` seconds, or at the latest
    ``max_delay`` seconds after its first unflushed event. ``watch()`` adds an inotify watch
    per subfolder (or takes a first snapshot) before it returns, so call it off the GUI thread.
    """

    def __init__(
        self,
        on_batch: Callable[[WatchBatch], None],
        debounce: float = 0.5,
        max_delay: float = 5.0,
        poll_interval: float = 5.0,
        force_polling: bool = False,
    ) -> None:
        self._on_batch = on_batch
        self._debounce = debounce
        self._max_delay = max_delay
        self._poll_interval = poll_interval
        self._force_polling = force_polling
        self._cond = threading.Condition()
        self._watched: dict[Path, _Watched] = {}
        self._closed = False
        self._flusher = threading.Thread(
            target=self._run_flusher, name=f"{THREAD_PREFIX}-flush", daemon=True
        )
        self._flusher.start()

    def watch(self, root: Path) -> str:
        """Starts watching ``root`` and returns "live" or "polling"."""
        root = Path(os.path.abspath(root))
        with self._cond:
            if self._closed:
                raise RuntimeError("the folder watcher is closed")
            if root in self._watched:
                return self._watched[root].mode
        state = _Watched(root, Path(os.path.realpath(root)))
        polling = partial(PollingObserver, timeout=self._poll_interval)
        state.mode = "polling" if self._force_polling else "live"
        try:
            self._start_observer(state, polling if self._force_polling else _native_observer)
        except OSError as exc:
            if self._force_polling or exc.errno not in _LIMIT_ERRNOS:
                raise
            log.warning(
                "cannot watch %s live (%s); polling it every %g s instead. Raising "
                "fs.inotify.max_user_watches or max_user_instances lets it be watched live.",
                root, exc.strerror, self._poll_interval,
            )
            state.mode = "polling"
            self._start_observer(state, polling)
        with self._cond:
            clash = self._closed or root in self._watched  # closed, or watched by a racing call
            if not clash:
                self._watched[root] = state
                self._cond.notify_all()  # events may have arrived before it was registered
        if clash:
            _stop_observer(state.observer)
            return self.watch(root)  # raises if closed, else reports the winner's mode
        return state.mode

    def unwatch(self, root: Path) -> None:
        """Stops watching ``root``; no batch for it starts after this returns."""
        with self._cond:
            state = self._watched.pop(Path(os.path.abspath(root)), None)
            if state is not None:
                state.stopped = True
        if state is not None:
            _stop_observer(state.observer)

    def mode(self, root: Path) -> str | None:
        """How ``root`` is watched: "live", "polling", or None when it is not watched."""
        with self._cond:
            state = self._watched.get(Path(os.path.abspath(root)))
            return state.mode if state is not None else None

    def close(self) -> None:
        """Stops every watch and the flush thread, dropping unflushed events. Idempotent."""
        with self._cond:
            self._closed = True
            states = list(self._watched.values())
            self._watched.clear()
            for state in states:
                state.stopped = True
            self._cond.notify_all()
        for state in states:
            _stop_observer(state.observer)
        if threading.current_thread() is not self._flusher:
            self._flusher.join()

    def _start_observer(self, state: _Watched, make: Callable[[], BaseObserver]) -> None:
        observer = make()  # the inotify observer calls inotify_init here (EMFILE)
        observer.name = f"{THREAD_PREFIX}-observer"
        handler = _Handler(partial(self._record, state))
        try:
            observer.schedule(handler, str(state.real_root), recursive=True, event_filter=_TYPES)
            observer.start()  # adds the inotify watches (ENOSPC), or takes the first snapshot
        except BaseException:
            _stop_observer(observer)
            raise
        state.observer = observer

    def _record(self, state: _Watched, event: events.FileSystemEvent) -> None:
        # Runs on watchdog's dispatch thread: keep it short and never call out from here.
        change = _to_change(state, event)
        if change is None:
            return
        with self._cond:
            if state.stopped:
                return
            now = time.monotonic()
            if not state.changes and not state.overflowed:
                state.first_at = now
                self._cond.notify_all()  # a new deadline; later events only push it back
            state.last_at = now
            if change.kind == "overflow":
                state.overflowed = True
            else:
                state.changes.append(change)

    def _run_flusher(self) -> None:
        while True:
            with self._cond:
                due = self._wait_for_due()
            if due is None:
                return
            for state, changes, overflowed in due:
                batch = _coalesce(state.root, changes, overflowed)
                with self._cond:
                    if batch is None or state.stopped:
                        continue
                try:
                    self._on_batch(batch)
                except Exception:
                    log.exception("handling a batch of changes under %s failed", state.root)

    def _wait_for_due(self) -> list[tuple[_Watched, list[_Change], bool]] | None:
        """Waits (holding the condition) until some folder's batch is due; None once closed."""
        while not self._closed:
            now = time.monotonic()
            due: list[tuple[_Watched, list[_Change], bool]] = []
            deadline: float | None = None
            for state in self._watched.values():
                if not state.changes and not state.overflowed:
                    continue
                at = min(state.last_at + self._debounce, state.first_at + self._max_delay)
                if at <= now:
                    due.append((state, state.changes, state.overflowed))
                    state.changes, state.overflowed = [], False
                elif deadline is None or at < deadline:
                    deadline = at
            if due:
                return due
            self._cond.wait(None if deadline is None else deadline - now)
        return None


def _stop_observer(observer: BaseObserver | None) -> None:
    if observer is None:
        return
    observer.stop()  # also stops the emitters and the inotify reader thread, and joins them
    if observer.is_alive():
        observer.join()


def _inside(state: _Watched, raw: bytes | str) -> Path | None:
    # The observer watches the real path (inotify would watch a symlinked root's link, not its
    # folder); batches speak of the root as the caller gave it. A far end of a move outside
    # the root comes back as None.
    if not raw:
        return None
    try:
        return state.root / Path(os.fsdecode(raw)).relative_to(state.real_root)
    except ValueError:
        return None


def _to_change(state: _Watched, event: events.FileSystemEvent) -> _Change | None:
    if isinstance(event, _QueueOverflowEvent):
        return _Change("overflow", state.root)
    kind = {"attrib": "modified"}.get(event.event_type, event.event_type)
    if kind not in {"created", "modified", "deleted", "moved"}:
        return None
    if event.is_directory and kind == "modified":
        return None  # fires whenever a child changes; the child's own event is what matters
    src, dest = _inside(state, event.src_path), _inside(state, event.dest_path)
    if kind == "moved" and src is None:
        kind, src, dest = "created", dest, None  # moved in from outside the root
    elif kind == "moved" and dest is None:
        kind = "deleted"  # moved out of the root
    if src is None:
        return None
    return _Change(kind, src, dest, event.is_directory)


def _coalesce(root: Path, changes: list[_Change], overflowed: bool) -> WatchBatch | None:
    """Folds one batch of events into net changes, checking the disk where events may mislead."""
    origin: dict[Path, Path | None] = {}  # current path -> its pre-batch path, None if new
    dirty: set[Path] = set()  # current paths whose content changed during the batch
    lost: set[Path] = set()  # pre-batch paths whose file was deleted or overwritten
    rescan: set[Path] = set()

    def drop(path: Path) -> None:
        source = origin.pop(path, path)
        dirty.discard(path)
        if source is not None:
            lost.add(source)

    for change in changes:
        path, dest = change.path, change.dest
        if change.is_dir:
            rescan.update(p for p in (path, dest) if p is not None)
        elif change.kind == "created":
            if path in origin:
                drop(path)
            origin[path] = None
            dirty.add(path)
        elif change.kind == "modified":
            origin.setdefault(path, path)
            dirty.add(path)
        elif change.kind == "deleted":
            drop(path)
        elif change.kind == "moved" and dest is not None and dest != path:
            source = origin.pop(path, path)
            was_dirty = path in dirty  # always true for a file born in the batch
            dirty.discard(path)
            if dest in origin:
                drop(dest)
            origin[dest] = source
            if was_dirty:
                dirty.add(dest)

    changed: set[Path] = set()
    moved: list[tuple[Path, Path]] = []
    for path, source in origin.items():
        if not os.path.isfile(path):
            if source is not None:
                lost.add(source)
            continue  # a file born in the batch and gone again (a temp file) leaves no trace
        if source is not None and source != path:
            moved.append((source, path))
        if path in dirty:
            changed.add(path)
    removed = {path for path in lost if not os.path.isfile(path)}
    if not (changed or moved or removed or rescan or overflowed):
        return None
    return WatchBatch(
        root, frozenset(changed), tuple(moved), frozenset(removed), frozenset(rescan), overflowed
    )
