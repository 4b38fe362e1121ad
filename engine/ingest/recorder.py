"""Writes what became of each file to the store and the vector index, one file at a time.

Each read file is recorded in its own transaction, findable by its words at once; its new
passages are embedded later, across files, by the meaning phase (engine/ingest/meaning.py).
A file the store refuses fails alone. Only a fault of the data dir itself stops the batch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from engine.ingest.member_paths import members_of
from engine.ingest.outcomes import FileOutcome, IndexSummary
from engine.ingest.reading import failure_of, is_storage_fault
from engine.ingest.token_ids import TokenIds
from engine.ingest.walk import FoundFile
from engine.store import ChunkRow, FileRow, Store
from engine.store.digest import text_digest
from engine.store.pending_vectors import stored_vectors
from engine.store.queue import QueuedPath

log = logging.getLogger(__name__)


class PassageVectors(Protocol):
    """The semantic side of indexing; absent for a keyword-only index."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def vector_column(self, vectors: np.ndarray) -> list[dict[str, Any]]: ...

    def blob_vectors(self, blobs: Sequence[bytes]) -> np.ndarray: ...

    def apply(self, removed: Sequence[int], added: Sequence[int], vectors: np.ndarray) -> None: ...

    def checkpoint(self) -> None: ...


@dataclass
class PendingFile:
    """A file read and cut into passages, waiting for its batch to be embedded and stored."""

    folder_id: int
    found: FoundFile
    digest: str
    kind: str
    chunks: list[ChunkRow]
    finished: tuple[QueuedPath, ...] = ()


_NO_VECTORS = np.empty((0, 0), dtype=np.float32)


class FileRecorder:
    def __init__(
        self,
        store: Store,
        vectors: PassageVectors | None,
        on_file: Callable[[FileOutcome], None] | None,
        token_ids: TokenIds | None = None,
    ) -> None:
        self.store = store
        self.vectors = vectors
        self.on_file = on_file
        self.token_ids = token_ids  # the word pieces of passages left for the meaning phase
        self.moved_ids: set[int] = set()

    def report(self, outcome: FileOutcome) -> None:
        if self.on_file is not None:
            self.on_file(outcome)

    def fail(
        self,
        folder_id: int,
        found: FoundFile,
        known: FileRow | None,
        exc: Exception,
        summary: IndexSummary,
        finished: tuple[QueuedPath, ...],
    ) -> str:
        """Record why one file was not indexed; a file that vanished is dropped quietly."""
        failure = failure_of(exc, found.path)
        if failure is None:
            if known is not None:
                self.remove_files([known.id])
                summary.removed += 1
                self.report(FileOutcome(known.path, "removed"))
            if finished:
                self.store.finish_queued(finished)
            return "gone"
        state, reason = failure
        self.record_problem(folder_id, found, state, reason, finished)
        listed = summary.skipped if state == "skipped" else summary.failed
        listed.append((str(found.path), reason))
        return state

    def record_problem(
        self,
        folder_id: int,
        found: FoundFile,
        state: str,
        reason: str,
        finished: tuple[QueuedPath, ...] = (),
        mtime: float | None = None,
    ) -> None:
        # The reason is for people: a name that is not UTF-8 inside it becomes "?".
        reason = reason.encode("utf-8", "replace").decode("utf-8")
        try:
            removed, _ = self.store.record_file(
                folder_id=folder_id, path=str(found.path), size=found.size,
                mtime=found.mtime if mtime is None else mtime, hash=None, kind=None,
                state=state, error=reason, finished=finished,
            )
        except Exception as exc:
            if is_storage_fault(exc) or not finished:
                raise
            log.exception("cannot record the failure of %r", str(found.path))
            self.store.finish_queued(finished)
            return
        if removed and self.vectors is not None:
            self.vectors.apply(removed, [], _NO_VECTORS)
        self.report(FileOutcome(str(found.path), state, reason=reason))

    def adopt_moved(
        self, folder_id: int, found: FoundFile, digest: str, finished: tuple[QueuedPath, ...]
    ) -> bool:
        """A new path whose content an indexed file had, at a path now gone, is that file moved."""
        for row in self.store.files_with_hash(digest):
            if row.path != str(found.path) and not os.path.lexists(row.path):
                self.store.move_file(
                    row.id, folder_id=folder_id, path=str(found.path), size=found.size,
                    mtime=found.mtime, finished=finished,
                )
                self.moved_ids.add(row.id)
                self.report(FileOutcome(str(found.path), "moved"))
                return True
        return False

    def remove_files(self, file_ids: Sequence[int], finished: Sequence[QueuedPath] = ()) -> None:
        removed = self.store.delete_files(file_ids, finished=finished)
        if removed and self.vectors is not None:
            self.vectors.apply(removed, [], _NO_VECTORS)

    def remove_queued(self, item: QueuedPath, summary: IndexSummary) -> None:
        """A queued path that is gone: drop its row, or the rows of the folder it was."""
        under = self.store.files_under(item.path) + members_of(self.store, item.path)  # a.zip › x
        rows = [r for r in under if r.id not in self.moved_ids]
        self.remove_files([r.id for r in rows], finished=(item,))
        summary.removed += len(rows)
        for row in rows:
            self.report(FileOutcome(row.path, "removed"))

    def give_up(self, exc: Exception, item: QueuedPath) -> None:
        """A queued path that raised where nothing should: logged, and out of the queue, so
        it can never wedge the worker by coming back first forever."""
        if is_storage_fault(exc):
            raise exc
        log.error("unexpected error with queued %r", item.path, exc_info=exc)
        try:
            self.store.finish_queued((item,))
        except Exception as again:
            if is_storage_fault(again):
                raise
            log.exception("cannot take %r off the queue", item.path)

    def flush(self, pending: list[PendingFile], summary: IndexSummary) -> None:
        """Store each read file in its own transaction, findable by its words at once.

        A passage whose exact text is embedded anywhere in the index already (the same
        file before an edit, a copy, a generated file beside its source) gets that vector;
        every other passage is written without one, for the meaning phase
        (engine/ingest/meaning.py) to embed.
        """
        for item in pending:
            try:
                self._store(item, summary)
            except Exception as exc:
                if is_storage_fault(exc):
                    raise
                self.fail(item.folder_id, item.found, None, exc, summary, item.finished)

    def _store(self, item: PendingFile, summary: IndexSummary) -> None:
        texts = [c.text for c in item.chunks]
        reused: dict[str, bytes] = {}
        if self.vectors is not None and texts:
            reused = stored_vectors(self.store.conn, texts)
        columns: list[dict[str, Any]] = [
            {"digest": text_digest(t), "vector": reused.get(t)} for t in texts
        ]
        removed, added = self.store.record_file(
            folder_id=item.folder_id, path=str(item.found.path), size=item.found.size,
            mtime=item.found.mtime, hash=item.digest, kind=item.kind, state="indexed",
            chunks=item.chunks, extra_columns=columns, finished=item.finished,
        )
        if self.token_ids is not None:
            self.token_ids.forget(removed)
            self.token_ids.put(
                [i for i, t in zip(added, texts, strict=True) if t not in reused],
                [c.ids for c in item.chunks if c.text not in reused],
            )
        if self.vectors is not None:
            kept = [i for i, t in zip(added, texts, strict=True) if t in reused]
            blobs = [reused[t] for t in texts if t in reused]
            vectors = self.vectors.blob_vectors(blobs) if blobs else _NO_VECTORS
            if removed or kept:
                self.vectors.apply(removed, kept, vectors)
        count = sum(1 for t in texts if t in reused)
        summary.reused += count
        summary.indexed += 1
        summary.passages += len(item.chunks)
        self.report(FileOutcome(str(item.found.path), "indexed", len(item.chunks), 0))
