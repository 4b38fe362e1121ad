"""Wires the stages together: walk a pinned folder, extract, chunk, embed, and store each file.

One file's trouble is that file's row: whatever its name, stat, read, hash, extraction,
chunking or store step raises becomes its recorded failure (engine.ingest.reading), and the
batch goes on. Only a fault of the data dir itself (a full disk, a damaged database) stops
the batch, for the caller to handle.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.config import Config
from engine.extract import Extracted, extract_file
from engine.extract.members import archive_of
from engine.ingest.checks import FileChangedError
from engine.ingest.chunk import PassageTokenizer, passage_limit
from engine.ingest.generated import screened
from engine.ingest.member_paths import stays_with_archive
from engine.ingest.outcomes import FileOutcome, IndexProgress, IndexSummary
from engine.ingest.reading import check_and_hash, extract_and_chunk, is_storage_fault
from engine.ingest.recorder import FileRecorder, PassageVectors, PendingFile
from engine.ingest.token_ids import TokenIds
from engine.ingest.walk import FolderWalker, FoundFile, classify
from engine.store import FileRow, Store
from engine.store.queue import QueuedPath

__all__ = ["FileOutcome", "IndexProgress", "IndexSummary", "Indexer", "PassageVectors"]

log = logging.getLogger(__name__)

# `dowse index` reads a file that changed while it was read again at the end of its folder,
# this many times this far apart, before it gives up on it until the next run.
CHANGED_RETRIES = 2
# Files looked at ahead for reading in the extraction children (engine/ingest/read_pool.py).
READ_AHEAD = 8
CHANGED_RETRY_SECONDS = 1.0


ProgressCallback = Callable[[IndexProgress], None]
OutcomeCallback = Callable[[FileOutcome], None]
Extract = Callable[[Path], Extracted]


class Indexer:
    def __init__(
        self,
        store: Store,
        config: Config,
        tokenizer: PassageTokenizer,
        vectors: PassageVectors | None = None,
        extract: Extract | None = None,
        on_file: OutcomeCallback | None = None,
        after_file: Callable[[], object] | None = None,
        prefetch: Callable[[Sequence[Path]], None] | None = None,
        token_ids: TokenIds | None = None,
    ) -> None:
        """`after_file` runs after each file is recorded: `dowse index` stores there what
        the meaning phase's encoder has finished (engine/ingest/meaning.py), and it takes the
        passages' word pieces from `token_ids`."""
        self.store = store
        self.after_file = after_file
        self.prefetch = prefetch  # told the files that come next, to read them ahead
        self.config = config
        self.tokenizer = tokenizer
        self.vectors = vectors
        max_bytes = config.extract.max_file_bytes
        self.extract = screened(extract or (lambda p: extract_file(p, max_bytes)), config.walk)
        self.recorder = FileRecorder(store, vectors, on_file, token_ids)
        self._rechunk_if_sizes_changed()

    @property
    def on_file(self) -> OutcomeCallback | None:
        """Told what became of each file (the engine's events)."""
        return self.recorder.on_file

    @on_file.setter
    def on_file(self, callback: OutcomeCallback | None) -> None:
        self.recorder.on_file = callback

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
            # Largest first: the extraction children then end together, not one of them
            # alone on a large file while the other idles.
            largest_first = sorted(walker.walk(), key=lambda f: f.size, reverse=True)
            plan.append((folder_id, walker, largest_first))
        total = sum(len(found) for _, _, found in plan)
        done = failed = 0

        for folder_id, _walker, found_files in plan:
            known = self.store.files_in_folder(folder_id)
            seen: set[str] = set()
            changed: list[FoundFile] = []
            for i, found in enumerate(found_files):
                self._read_ahead(found_files[i + 1 : i + 1 + READ_AHEAD], known)
                seen.add(str(found.path))
                outcome = self._index_one(folder_id, found, known, summary)
                if outcome == "changed":
                    changed.append(found)
                elif outcome == "failed":
                    failed += 1
                done += 1
                if outcome != "skipped":  # a skipped file was not read: a 60 GB image is no rate
                    summary.bytes += found.size
                if progress:
                    progress(
                        IndexProgress(
                            total, done, failed, summary.bytes,
                            time.monotonic() - started, str(found.path),
                        )
                    )
            self._read_changed_again(folder_id, changed, known, summary)
            gone = [
                row.id
                for path, row in known.items()
                if path not in seen and row.id not in self.recorder.moved_ids
                and not stays_with_archive(self.store, row, seen)  # members go with it
            ]
            if gone:
                self.recorder.remove_files(gone)
                summary.removed += len(gone)
        if self.vectors is not None:
            self.vectors.checkpoint()
        summary.seconds = time.monotonic() - started
        return summary

    def _read_ahead(self, upcoming: Sequence[FoundFile], known: dict[str, FileRow]) -> None:
        if self.prefetch is None:
            return
        self.prefetch([f.path for f in upcoming if _may_have_changed(f, known.get(str(f.path)))])

    def _read_queued_ahead(
        self, upcoming: Sequence[QueuedPath], walkers: dict[int, FolderWalker], looked: set[str]
    ) -> None:
        """Read ahead only what the walker would list: never an excluded file (a secret) or
        a link out of the pinned folder; each queued path is looked at once."""
        if self.prefetch is None:
            return
        fresh = [q for q in upcoming if q.path not in looked]
        looked.update(q.path for q in fresh)
        ahead = [
            found.path for q in fresh
            if (found := _stat_included(Path(q.path), walkers.get(q.folder_id))) is not None
            and not found.problem
        ]
        if ahead:
            self.prefetch(ahead)

    def _index_one(
        self,
        folder_id: int,
        found: FoundFile,
        known: dict[str, FileRow],
        summary: IndexSummary,
    ) -> str:
        outcome = self._prepare(folder_id, found, known.get(str(found.path)), summary)
        if not isinstance(outcome, PendingFile):
            return outcome
        self._record([outcome], summary)
        return "read"

    def _record(self, read: list[PendingFile], summary: IndexSummary) -> None:
        """Each file is findable by its words as soon as it is read."""
        self.recorder.flush(read, summary)
        if self.after_file is not None:
            self.after_file()

    def _read_changed_again(
        self,
        folder_id: int,
        changed: list[FoundFile],
        known: dict[str, FileRow],
        summary: IndexSummary,
    ) -> None:
        """Files that changed while read get a few more tries; one that still changes keeps
        what was indexed before, or is recorded as failed and read again on the next run."""
        for _ in range(CHANGED_RETRIES):
            if not changed:
                return
            time.sleep(CHANGED_RETRY_SECONDS)
            again = []
            for found in changed:
                fresh = classify(found.path)
                if fresh is not None and (
                    self._index_one(folder_id, fresh, known, summary) == "changed"
                ):
                    again.append(fresh)
            changed = again
        for found in changed:
            reason = "it kept changing while it was read; it is read again next time"
            row = known.get(str(found.path))
            if row is None or row.state != "indexed":
                # mtime -1: whatever the file's mtime then, the next run reads it again.
                self.recorder.record_problem(folder_id, found, "failed", reason, mtime=-1.0)
            summary.failed.append((str(found.path), reason))

    def scan_folder(self, folder_id: int, root: Path) -> tuple[list[FoundFile], list[FileRow]]:
        """Diff a pinned folder against the index by (size, mtime): what changed, what is gone."""
        walker = FolderWalker(root, self.config.walk)
        known = self.store.files_in_folder(folder_id)
        changed: list[FoundFile] = []
        walked: set[str] = set()
        for found in walker.walk():
            walked.add(str(found.path))
            row = known.pop(str(found.path), None)
            if row is None or row.size != found.size or row.mtime != found.mtime:
                changed.append(found)
        # An archive's members are never walked: they stay while their archive does.
        return changed, [r for r in known.values() if archive_of(r.path) not in walked]

    def index_queued(
        self, items: Sequence[QueuedPath], walkers: dict[int, FolderWalker]
    ) -> IndexSummary:
        """Bring queued paths in line with the disk; each leaves the queue as it is recorded.

        Files still on disk go first, so a file that moved is found by its content before the
        row at its old path is purged. A file that changed while it was read leaves the queue
        unrecorded and is listed in `summary.changed`, for the caller to queue again later.
        """
        summary = IndexSummary()
        started = time.monotonic()
        missing: list[QueuedPath] = []
        looked: set[str] = set()
        for i, item in enumerate(items):
            self._read_queued_ahead(items[i + 1 : i + 1 + READ_AHEAD], walkers, looked)
            try:
                found = _stat_included(Path(item.path), walkers.get(item.folder_id))
                if found is None:
                    missing.append(item)
                    continue
                known = self.store.file_by_path(item.path)
                outcome = self._prepare(item.folder_id, found, known, summary, (item,))
                if isinstance(outcome, PendingFile):
                    self._record([outcome], summary)
                elif outcome == "changed":
                    self.store.finish_queued((item,))
                if outcome != "skipped":
                    summary.bytes += found.size
            except Exception as exc:
                self.recorder.give_up(exc, item)
        for item in missing:
            try:
                self.recorder.remove_queued(item, summary)
            except Exception as exc:
                self.recorder.give_up(exc, item)
        self.recorder.moved_ids.clear()
        summary.seconds = time.monotonic() - started
        return summary

    def _prepare(
        self,
        folder_id: int,
        found: FoundFile,
        known: FileRow | None,
        summary: IndexSummary,
        finished: tuple[QueuedPath, ...] = (),
    ) -> PendingFile | str:
        """Read one file; returns work to commit, or what happened to it."""
        path = str(found.path)
        if known is not None and known.size == found.size and known.mtime == found.mtime:
            if finished:
                self.store.finish_queued(finished)
            summary.unchanged += 1
            return "unchanged"
        try:
            checked = check_and_hash(found, self.config.extract.max_file_bytes)
            found = checked.found
            if known is not None and known.hash == checked.digest and known.state == "indexed":
                self.store.touch_file(known.id, found.size, found.mtime, finished)
                summary.unchanged += 1
                return "unchanged"
            moved = known is None and self.recorder.adopt_moved(
                folder_id, found, checked.digest, finished
            )
            if moved:
                summary.moved += 1
                return "moved"
            kind, chunks = extract_and_chunk(checked, self.extract, self.tokenizer, self.config)
        except FileChangedError:
            summary.changed.append((path, folder_id))
            return "changed"
        except Exception as exc:  # one file's failure, recorded; the batch goes on
            if is_storage_fault(exc):
                raise  # not this file's fault: the caller waits; the file stays queued
            return self.recorder.fail(folder_id, found, known, exc, summary, finished)
        return PendingFile(folder_id, found, checked.digest, kind, chunks, finished)


def _may_have_changed(found: FoundFile, row: FileRow | None) -> bool:
    """Whether the walk says `found` needs reading: new, or another size or mtime."""
    if found.problem:
        return False
    return row is None or (row.size, row.mtime) != (found.size, found.mtime)


def _stat_included(path: Path, walker: FolderWalker | None) -> FoundFile | None:
    """The file at `path` as the walker would list it, or None if it is gone or excluded."""
    if walker is None or not walker.is_included(path):
        return None
    real = os.path.realpath(path)
    root = str(walker.real_root)
    if real != root and not real.startswith(root + os.sep):
        return None  # a link out of the pinned folder
    if os.path.isdir(path):
        return None
    return classify(path)
