"""Wires the stages together: walk a pinned folder, extract, chunk, embed, and store each file."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from engine.chunk import PassageTokenizer, chunk_document
from engine.config import Config
from engine.extract import ExtractError, UnsupportedFile, extract_file
from engine.store import ChunkRow, Store
from engine.walk import FolderWalker, FoundFile

log = logging.getLogger(__name__)

# Passages gathered from several files before one call to the encoder: batching across
# small files is what keeps the encoder busy.
EMBED_BATCH_PASSAGES = 256


class PassageVectors(Protocol):
    """The semantic side of indexing; absent for a keyword-only index."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    def vector_column(self, vectors: np.ndarray) -> list[dict[str, Any]]: ...

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
    passages: int = 0
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


ProgressCallback = Callable[[IndexProgress], None]


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
    ) -> None:
        self.store = store
        self.config = config
        self.tokenizer = tokenizer
        self.vectors = vectors

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
            gone = [row.id for path, row in known.items() if path not in seen]
            if gone:
                self._remove_files(gone)
                summary.removed += len(gone)
        self._flush(pending, summary)
        if self.vectors is not None:
            self.vectors.checkpoint()
        summary.seconds = time.monotonic() - started
        return summary

    def _prepare(
        self, folder_id: int, found: FoundFile, known: Any, summary: IndexSummary
    ) -> _Pending | str:
        """Read one file; returns work to commit, or what happened to it."""
        path = str(found.path)
        if known is not None and known.size == found.size and known.mtime == found.mtime:
            summary.unchanged += 1
            return "unchanged"
        try:
            digest = file_digest(found.path)
            if known is not None and known.hash == digest and known.state == "indexed":
                self.store.touch_file(known.id, found.size, found.mtime)
                summary.unchanged += 1
                return "unchanged"
            doc = extract_file(found.path, self.config.extract.max_file_bytes)
            passages = chunk_document(doc, self.tokenizer, self.config.chunk)
        except UnsupportedFile as exc:
            self._record_problem(folder_id, found, "skipped", str(exc))
            summary.skipped.append((path, str(exc)))
            return "skipped"
        except (ExtractError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            self._record_problem(folder_id, found, "failed", reason)
            summary.failed.append((path, reason))
            return "failed"
        except Exception as exc:  # a bug: log it whole, record it, and go on with the batch
            log.exception("unexpected error indexing %s", path)
            reason = f"internal error: {type(exc).__name__}: {exc}"
            self._record_problem(folder_id, found, "failed", reason)
            summary.failed.append((path, reason))
            return "failed"
        chunks = [ChunkRow(p.ordinal, p.start, p.end, p.page, p.heading, p.text) for p in passages]
        return _Pending(folder_id, found, digest, doc.kind, chunks)

    def _record_problem(self, folder_id: int, found: FoundFile, state: str, reason: str) -> None:
        removed, _ = self.store.record_file(
            folder_id=folder_id, path=str(found.path), size=found.size, mtime=found.mtime,
            hash=None, kind=None, state=state, error=reason,
        )
        if removed and self.vectors is not None:
            self.vectors.apply(removed, [], np.empty((0, 0), dtype=np.float32))

    def _flush(self, pending: list[_Pending], summary: IndexSummary) -> None:
        if not pending:
            return
        vectors: np.ndarray | None = None
        if self.vectors is not None:
            texts = [c.text for p in pending for c in p.chunks]
            vectors = self.vectors.embed_passages(texts)
        offset = 0
        for item in pending:
            n = len(item.chunks)
            extra = None
            file_vectors = None
            if vectors is not None and self.vectors is not None:
                file_vectors = vectors[offset : offset + n]
                extra = self.vectors.vector_column(file_vectors)
            offset += n
            removed, added = self.store.record_file(
                folder_id=item.folder_id, path=str(item.found.path), size=item.found.size,
                mtime=item.found.mtime, hash=item.digest, kind=item.kind, state="indexed",
                chunks=item.chunks, extra_columns=extra,
            )
            if self.vectors is not None and file_vectors is not None:
                self.vectors.apply(removed, added, file_vectors)
            summary.indexed += 1
            summary.passages += n

    def _remove_files(self, file_ids: Sequence[int]) -> None:
        removed = self.store.delete_files(file_ids)
        if removed and self.vectors is not None:
            self.vectors.apply(removed, [], np.empty((0, 0), dtype=np.float32))
