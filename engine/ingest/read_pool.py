"""Extraction children side by side: the next files are read while this one is recorded.

Each child is an IsolatedExtractor (its own time and memory limits) running
engine/ingest/read_child.py. The indexer says which files come next (`prefetch`); `read`
then takes a file's result, or reads it now. A result is used only if the file's stat is
the one it had when its read began: a file saved meanwhile is read again.
"""

from __future__ import annotations

import os
import queue
import stat
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from engine.config import Config
from engine.extract import Extracted
from engine.extract.isolated import IsolatedExtractor
from engine.extract.known_members import KnownMembers
from engine.ingest.heap import limit_malloc_arenas
from engine.ingest.read_child import ReadRequest

MAX_WORKERS = 4
# Files read ahead per child: enough that a child never waits for the recorder (at 2 each,
# one long page held the window and the other child idled: python3-doc's words phase used
# 1.6 of its 2 cores).
AHEAD_PER_WORKER = 4
# Only files up to this size are read ahead: a read-ahead result waits in this process, and a
# few large ones at once (their text, their passages) would add up to gigabytes. Larger files
# are read when their turn comes, one at a time.
AHEAD_MAX_BYTES = 4 * 1024 * 1024
_Stat = tuple[int, int, int, int, int]  # inode, size, mtime, ctime, mode
Source = Path | KnownMembers  # what the child is sent for a file (engine/ingest/read_child.py)


def worker_count(config: Config) -> int:
    configured = config.extract.workers
    return configured if configured > 0 else min(os.cpu_count() or 1, MAX_WORKERS)


class ReadPool:
    """Extraction children reading and cutting files; a subclass may read something else
    (engine/ingest/ocr_pool.py) by its own children (`_child`) and requests (`_request`)."""

    ahead_per_worker = AHEAD_PER_WORKER
    ahead_max_bytes: int | None = AHEAD_MAX_BYTES
    name = "dowse-read"

    def __init__(self, config: Config, model_dir: Path, workers: int | None = None) -> None:
        limit_malloc_arenas()
        self._config = config
        self._model_dir = str(model_dir)
        self.size = workers or worker_count(config)
        self._free: queue.SimpleQueue[IsolatedExtractor] = queue.SimpleQueue()
        self._children = [self._child() for _ in range(self.size)]
        for child in self._children:
            self._free.put(child)
        self._threads: ThreadPoolExecutor | None = None
        self._ahead: dict[str, tuple[_Stat | None, Future[Extracted]]] = {}
        self._recent: set[str] = set()  # the files the last prefetch() was told come next

    def prefetch(self, sources: Iterable[Source]) -> None:
        """Start reading the files that come next, up to AHEAD_PER_WORKER per child."""
        sources = list(sources)
        wanted = {str(_path_of(s)) for s in sources}
        # The file about to be read was in the last call's list, not in this one (it lists
        # what comes after it): its result must stay too.
        keep, self._recent = wanted | self._recent, wanted
        for source in sources:
            if len(self._ahead) >= self.size * self.ahead_per_worker and not (
                self._drop_unclaimed(keep)
            ):
                return
            path = _path_of(source)
            if str(path) in self._ahead:
                continue
            st = _stat(path)
            # Only what the checks would let through: never a FIFO, a device, an oversize file.
            if st is None or not stat.S_ISREG(st[4]) or (
                    self.ahead_max_bytes is not None and st[1] > self.ahead_max_bytes):
                continue
            self._ahead[str(path)] = (st, self._pool().submit(self._read, source))

    def read(self, source: Source) -> Extracted:
        """The file extracted and cut: read ahead if it was and is unchanged since, else now."""
        path = _path_of(source)
        ahead = self._ahead.pop(str(path), None)
        if ahead is not None:
            before, future = ahead
            if before is not None and before == _stat(path):
                return future.result()
            future.cancel()  # changed since its read began: read it again
        return self._read(source)

    def _drop_unclaimed(self, wanted: set[str]) -> bool:
        """Make room by dropping the oldest result nobody asked for: a file read ahead that
        the indexer then found unchanged, or that left the batch; never one of the files
        about to be read (`wanted`). False if there is none."""
        for key, (_, future) in self._ahead.items():
            if future.done() and key not in wanted:
                del self._ahead[key]
                return True
        return False

    def close(self) -> None:
        for _, future in self._ahead.values():
            future.cancel()
        self._ahead.clear()
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
            self._threads = None
        for child in self._children:
            child.close()

    def _pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.size, thread_name_prefix=self.name)
        return self._threads

    def _child(self) -> IsolatedExtractor:
        extract = self._config.extract
        return IsolatedExtractor(
            extract.timeout_seconds, extract.max_file_bytes,
            target="engine.ingest.read_child:read_and_cut", max_memory=extract.max_memory_bytes,
        )

    def _request(self, source: Source) -> object:
        return ReadRequest(
            source, self._model_dir, self._config.chunk, self._config.extract.timeout_seconds
        )

    def _read(self, source: Source) -> Extracted:
        request = self._request(source)
        child = self._free.get()
        try:
            return child.call(request)
        finally:
            self._free.put(child)


def _stat(path: Path) -> _Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def _path_of(source: Source) -> Path:
    return source.path if isinstance(source, KnownMembers) else source
