"""Wires the stages together: walk a pinned folder, extract, chunk, embed, and store each file."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.config import Config
from engine.extract import Extracted, ExtractError, UnsupportedFile, extract_file
from engine.ingest.chunk import PassageTokenizer, chunk_document, passage_limit
from engine.ingest.walk import FolderWalker, FoundFile
from engine.store import ChunkRow, FileRow, Store
from engine.store.queue import QueuedPath

log = logging.getLogger(__name__)

# Passages gathered from several files before one call to the encoder: batching across
# small files is what keeps the encoder busy.
EMBED_BATCH_PASSAGES = 256


class PassageVectors(Protocol):
    """The semantic side of indexing; absent for a keyword-only index."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def vector_column(self, vectors: np.ndarray) -> list[dict[str, Any]]: ...

    def blob_vectors(self, blobs: Sequence[bytes]) -> np.ndarray: ...

    def apply(self, removed: Sequence[int], added: Sequence[int], vectors: np.ndarray) -> None: ...

    def checkpoint(self) -> None: ...


@dataclass(frozen=True)
class IndexProgress:
    total: int
    done: int
    failed: int
    bytes_done: int
    elapsed: float
    current: str

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


@dataclass
class IndexSummary:
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    moved: int = 0  # renamed or moved files recognised by content: nothing re-embedded
    passages: int = 0
    embedded: int = 0  # passages that went through the encoder
    reused: int = 0  # passages whose text was unchanged, so their stored vector was kept
    bytes: int = 0
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Pending:
    folder_id: int
    found: FoundFile
    digest: str
    kind: str
    chunks: list[ChunkRow]
    finished: tuple[QueuedPath, ...] = ()


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file, for the engine's events."""

    path: str
    state: str  # indexed | unchanged | moved | skipped | failed | removed
    passages: int = 0
    embedded: int = 0
    reason: str = ""


ProgressCallback = Callable[[IndexProgress], None]
OutcomeCallback = Callable[[FileOutcome], None]
Extract = Callable[[Path], Extracted]


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "blake2b").hexdigest()[:32]


class Indexer:
    def __init__(
        self,
        store: Store,
        config: Config,
        tokenizer: PassageTokenizer,
        vectors: PassageVectors | None = None,
        extract: Extract | None = None,
        on_file: OutcomeCallback | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.tokenizer = tokenizer
        self.vectors = vectors
        max_bytes = config.extract.max_file_bytes
        self.extract: Extract = extract or (lambda path: extract_file(path, max_bytes))
        self.on_file = on_file
        self._moved_ids: set[int] = set()
        self._rechunk_if_sizes_changed()

    def _rechunk_if_sizes_changed(self) -> None:
        """Mark every indexed file changed when passages are now cut to another size.

        The next scan then re-extracts and re-chunks them (passages whose text survives keep
        their vectors); without this an index kept the old passage size forever.
        """
        limit = passage_limit(self.tokenizer, self.config.chunk)
        sizes = f"{limit}/{self.config.chunk.overlap_tokens}"
        recorded = self.store.get_meta("passage_sizes")
        if recorded == sizes:
            return
        with self.store.transaction() as conn:
            # An index from before sizes were recorded was cut to unknown sizes (the default
            # was then the model's limit): it is chunked again too. Where its sizes were the
            # same, every passage text survives and nothing is embedded again.
            changed = conn.execute(
                "UPDATE files SET mtime = -1, hash = NULL WHERE state = 'indexed'"
            ).rowcount
            if changed:
                log.info("passage sizes %s -> %s: %d files will be chunked again",
                         recorded or "unrecorded", sizes, changed)
            self.store.set_meta("passage_sizes", sizes)

    def index_folders(
        self, folders: Sequence[Path], progress: ProgressCallback | None = None
    ) -> IndexSummary:
        """Pin each folder and bring the index in line with what is on disk now."""
        summary = IndexSummary()
        started = time.monotonic()
        plan: list[tuple[int, FolderWalker, list[FoundFile]]] = []
        for folder in folders:
            root = Path(os.path.abspath(folder))
            folder_id = self.store.pin_folder(str(root))
            walker = FolderWalker(root, self.config.walk)
            plan.append((folder_id, walker, list(walker.walk())))
        total = sum(len(found) for _, _, found in plan)
        done = failed = 0
        pending: list[_Pending] = []

        for folder_id, _walker, found_files in plan:
            known = self.store.files_in_folder(folder_id)
            seen: set[str] = set()
            for found in found_files:
                seen.add(str(found.path))
                outcome = self._prepare(folder_id, found, known.get(str(found.path)), summary)
                if isinstance(outcome, _Pending):
                    pending.append(outcome)
                    if sum(len(p.chunks) for p in pending) >= EMBED_BATCH_PASSAGES:
                        self._flush(pending, summary)
                        pending = []
                elif outcome == "failed":
                    failed += 1
                done += 1
                summary.bytes += found.size
                if progress:
                    progress(
                        IndexProgress(
                            total, done, failed, summary.bytes,
                            time.monotonic() - started, str(found.path),
                        )
                    )
            gone = [
                row.id
                for path, row in known.items()
                if path not in seen and row.id not in self._moved_ids
            ]
            if gone:
                self._remove_files(gone)
                summary.removed += len(gone)
        self._flush(pending, summary)
        if self.vectors is not None:
            self.vectors.checkpoint()
        summary.seconds = time.monotonic() - started
        return summary

    def scan_folder(self, folder_id: int, root: Path) -> tuple[list[FoundFile], list[FileRow]]:
        """Diff a pinned folder against the index by (size, mtime): what changed, what is gone."""
        walker = FolderWalker(root, self.config.walk)
        known = self.store.files_in_folder(folder_id)
        changed: list[FoundFile] = []
        for found in walker.walk():
            row = known.pop(str(found.path), None)
            if row is None or row.size != found.size or row.mtime != found.mtime:
                changed.append(found)
        return changed, list(known.values())

    def index_queued(
        self, items: Sequence[QueuedPath], walkers: dict[int, FolderWalker]
    ) -> IndexSummary:
        """Bring queued paths in line with the disk; each leaves the queue as it is recorded.

        Files still on disk go first, so a file that moved is found by its content before the
        row at its old path is purged.
        """
        summary = IndexSummary()
        started = time.monotonic()
        pending: list[_Pending] = []
        missing: list[QueuedPath] = []
        for item in items:
            walker = walkers.get(item.folder_id)
            found = _stat_included(Path(item.path), walker)
            if found is None:
                missing.append(item)
                continue
            known = self.store.file_by_path(item.path)
            outcome = self._prepare(item.folder_id, found, known, summary, (item,))
            if isinstance(outcome, _Pending):
                pending.append(outcome)
                if sum(len(p.chunks) for p in pending) >= EMBED_BATCH_PASSAGES:
                    self._flush(pending, summary)
                    pending = []
            summary.bytes += found.size
        self._flush(pending, summary)
        for item in missing:
            rows = [r for r in self.store.files_under(item.path) if r.id not in self._moved_ids]
            removed = self.store.delete_files([r.id for r in rows], finished=(item,))
            if removed and self.vectors is not None:
                self.vectors.apply(removed, [], np.empty((0, 0), dtype=np.float32))
            summary.removed += len(rows)
            for row in rows:
                self._report(FileOutcome(row.path, "removed"))
        self._moved_ids.clear()
        summary.seconds = time.monotonic() - started
        return summary

    def _prepare(
        self,
        folder_id: int,
        found: FoundFile,
        known: FileRow | None,
        summary: IndexSummary,
        finished: tuple[QueuedPath, ...] = (),
    ) -> _Pending | str:
        """Read one file; returns work to commit, or what happened to it."""
        path = str(found.path)
        if known is not None and known.size == found.size and known.mtime == found.mtime:
            if finished:
                self.store.finish_queued(finished)
            summary.unchanged += 1
            return "unchanged"
        try:
            digest = file_digest(found.path)
            if known is not None and known.hash == digest and known.state == "indexed":
                self.store.touch_file(known.id, found.size, found.mtime, finished)
                summary.unchanged += 1
                return "unchanged"
            if known is None and self._adopt_moved(folder_id, found, digest, finished):
                summary.moved += 1
                return "moved"
            doc = self.extract(found.path)
            passages = chunk_document(doc, self.tokenizer, self.config.chunk)
        except UnsupportedFile as exc:
            self._record_problem(folder_id, found, "skipped", str(exc), finished)
            summary.skipped.append((path, str(exc)))
            return "skipped"
        except (ExtractError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            self._record_problem(folder_id, found, "failed", reason, finished)
            summary.failed.append((path, reason))
            return "failed"
        except Exception as exc:  # a bug: log it whole, record it, and go on with the batch
            log.exception("unexpected error indexing %s", path)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            self._record_problem(folder_id, found, "failed", reason, finished)
            summary.failed.append((path, reason))
            return "failed"
        chunks = [ChunkRow(p.ordinal, p.start, p.end, p.page, p.heading, p.text) for p in passages]
        return _Pending(folder_id, found, digest, doc.kind, chunks, finished)

    def _adopt_moved(
        self, folder_id: int, found: FoundFile, digest: str, finished: tuple[QueuedPath, ...]
    ) -> bool:
        """A new path whose content an indexed file had, at a path now gone, is that file moved."""
        for row in self.store.files_with_hash(digest):
            if row.path != str(found.path) and not os.path.lexists(row.path):
                self.store.move_file(
                    row.id, folder_id=folder_id, path=str(found.path), size=found.size,
                    mtime=found.mtime, finished=finished,
                )
                self._moved_ids.add(row.id)
                self._report(FileOutcome(str(found.path), "moved"))
                return True
        return False

    def _record_problem(
        self,
        folder_id: int,
        found: FoundFile,
        state: str,
        reason: str,
        finished: tuple[QueuedPath, ...] = (),
    ) -> None:
        removed, _ = self.store.record_file(
            folder_id=folder_id, path=str(found.path), size=found.size, mtime=found.mtime,
            hash=None, kind=None, state=state, error=reason, finished=finished,
        )
        if removed and self.vectors is not None:
            self.vectors.apply(removed, [], np.empty((0, 0), dtype=np.float32))
        self._report(FileOutcome(str(found.path), state, reason=reason))

    def _flush(self, pending: list[_Pending], summary: IndexSummary) -> None:
        if not pending:
            return
        columns: list[list[dict[str, Any]] | None] = [None] * len(pending)
        vectors: list[np.ndarray | None] = [None] * len(pending)
        embedded = [0] * len(pending)
        if self.vectors is not None:
            # Passages whose text a file already had keep their stored vector: editing the
            # end of a long document re-embeds only the passages that changed.
            olds = [self.store.old_vectors(str(p.found.path)) for p in pending]
            fresh = list(dict.fromkeys(
                c.text for p, old in zip(pending, olds, strict=True)
                for c in p.chunks if c.text not in old
            ))
            new = dict(zip(fresh, self.vectors.embed_passages(fresh), strict=True)) if fresh else {}
            summary.embedded += len(fresh)
            for i, (item, old) in enumerate(zip(pending, olds, strict=True)):
                texts = [c.text for c in item.chunks]
                reused = [t for t in texts if t in old]
                kept = dict(zip(reused, self.vectors.blob_vectors([old[t] for t in reused]),
                                strict=True))
                rows = [kept[t] if t in kept else new[t] for t in texts]
                stacked = np.stack(rows) if rows else np.empty((0, 0), dtype=np.float32)
                vectors[i] = stacked
                columns[i] = [
                    {"vector": old[t]} if t in old else col
                    for t, col in zip(texts, self.vectors.vector_column(stacked), strict=True)
                ]
                embedded[i] = len(texts) - len(reused)
                summary.reused += len(reused)
        for i, item in enumerate(pending):
            removed, added = self.store.record_file(
                folder_id=item.folder_id, path=str(item.found.path), size=item.found.size,
                mtime=item.found.mtime, hash=item.digest, kind=item.kind, state="indexed",
                chunks=item.chunks, extra_columns=columns[i], finished=item.finished,
            )
            file_vectors = vectors[i]
            if self.vectors is not None and file_vectors is not None:
                self.vectors.apply(removed, added, file_vectors)
            summary.indexed += 1
            summary.passages += len(item.chunks)
            self._report(
                FileOutcome(str(item.found.path), "indexed", len(item.chunks), embedded[i])
            )

    def _remove_files(self, file_ids: Sequence[int]) -> None:
        removed = self.store.delete_files(file_ids)
        if removed and self.vectors is not None:
            self.vectors.apply(removed, [], np.empty((0, 0), dtype=np.float32))

    def _report(self, outcome: FileOutcome) -> None:
        if self.on_file is not None:
            self.on_file(outcome)


def _stat_included(path: Path, walker: FolderWalker | None) -> FoundFile | None:
    """The file at `path` as the walker would list it, or None if it is gone or excluded."""
    if walker is None or not walker.is_included(path):
        return None
    real = os.path.realpath(path)
    root = str(walker.real_root)
    if real != root and not real.startswith(root + os.sep):
        return None  # a link out of the pinned folder
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return FoundFile(path, st.st_size, st.st_mtime)
