"""Sends images and scanned PDF pages to OCR: after text-bearing files, in bounded runs.

The indexer calls extract() for every file. Text comes from the usual extraction child; when
the text says there are picture pages (an image, a PDF page with next to no text), those are
read by OCR in a second child (engine/extract/scanned.py) with a time budget per run:
  * A file met at a text priority (an edit, a scan) is indexed with the text it has and
    deferred: listed as pending (engine/store/ocr_pending.py) and queued again at
    PRIORITY_OCR, behind every text-bearing file.
  * At PRIORITY_OCR each run reads pages for `ocr.seconds_per_run` seconds; the pages read
    so far are indexed, and the file is queued again until its last page is read. A huge
    scanned PDF is searchable page by page and never holds the queue for long.
OCR results are cached by content hash (data_dir/cache/ocr), so a re-run reads only new pages.
An archive's members, read with it by the text child, are recorded beside it after each batch
(engine/ingest/archive_members.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from engine.config import Config
from engine.embed.model_dir import resolve_model_dir
from engine.extract import Extracted, ExtractError, UnsupportedFile
from engine.extract.ocr import unavailable_reason
from engine.extract.regions import OcrExtracted
from engine.extract.scanned import pages_needing_ocr
from engine.ingest.archive_members import ArchiveMembers
from engine.ingest.chunk import PassageTokenizer
from engine.ingest.indexer import (
    FileOutcome,
    Indexer,
    IndexSummary,
    PassageVectors,
    ProgressCallback,
)
from engine.ingest.meaning import (
    MeaningStage,
    closing_meaning,
    meaning_progress,
    overlaps_words,
    with_meaning,
)
from engine.ingest.ocr_pool import OcrPool
from engine.ingest.read_pool import ReadPool
from engine.ingest.token_ids import TokenIds
from engine.ingest.walk import FolderWalker
from engine.store import Store, ocr_pending
from engine.store.queue import PRIORITY_OCR, next_batch

log = logging.getLogger(__name__)

Extract = Callable[[Path], Extracted]


class OcrStage:
    """Text extraction with OCR behind it; owns both extraction children."""

    def __init__(
        self,
        store: Callable[[], Store],
        config: Config,
        cache_dir: Path | None,
        defer: Callable[[str], bool] | None = None,
    ) -> None:
        self._store = store  # the caller's connection, opened on the thread that indexes
        self.config = config.ocr
        extract = config.extract
        # Text extraction, and cutting into passages, in children side by side; an archive's
        # recorded members go with it (archive_members), so only changed ones are read.
        self._reader = ReadPool(config, resolve_model_dir(config.embed.model_path))
        # Extraction and chunking share the per-file time limit: a run leaves chunking half.
        self._budget = min(self.config.seconds_per_run, extract.timeout_seconds / 2)
        # As many OCR children as text ones: OCR's runs come once the text is read.
        self._ocr = OcrPool(config, cache_dir, self._budget, self._reader.size)
        self.unavailable = unavailable_reason(self.config)
        if self.unavailable and self.config.enabled:
            log.warning("images and scanned pages will not be read: %s", self.unavailable)
        self._defer = defer or self._queued_ahead
        self.hold = False  # True: defer every file's OCR (the first pass of `dowse index`)
        self.members = ArchiveMembers()
        self._lock = threading.Lock()
        self.pages_read = 0  # read by OCR in this session (not from the cache)
        self.pages_finished = 0  # pages of files finished in this session
        self.seconds = 0.0  # spent in OCR runs in this session
        self.current = ""

    @property
    def store(self) -> Store:
        return self._store()

    def _queued_ahead(self, path: str) -> bool:
        """Defer OCR while the file waits at a text priority (an edit, a scan)."""
        priority = ocr_pending.queued_priority(self.store.conn, path)
        return priority is not None and priority < PRIORITY_OCR

    def extract(self, path: Path) -> Extracted:
        doc = self._reader.read(self.members.request(self.store, path))
        self.members.note(path, doc)  # an archive's members, recorded by after_batch()
        needed = pages_needing_ocr(doc)
        key = str(path)
        if needed == 0:
            return doc
        if self.unavailable is not None:
            self._forget(key)
            if doc.kind == "image":
                raise UnsupportedFile(f"image not read: {self.unavailable}")
            return doc  # a scanned PDF keeps what little text it has
        if self.hold or self._defer(key):
            ocr_pending.mark(self.store.conn, key, 0, needed)
            self._ocr.start_soon()  # ready when the OCR runs come (its imports take 0.4 s)
            return doc
        started = time.monotonic()
        self.current = key
        try:
            result = self._ocr.read(path)
        except ExtractError:
            self._forget(key)
            raise
        finally:
            self.current = ""
            with self._lock:
                self.seconds += time.monotonic() - started
        read = result if isinstance(result, OcrExtracted) else OcrExtracted(result.text, "pdf")
        with self._lock:
            self.pages_read += read.ocr_fresh
        if read.ocr_complete:
            self._forget(key)
            with self._lock:
                self.pages_finished += read.ocr_pages
        else:
            ocr_pending.mark(self.store.conn, key, read.ocr_done, read.ocr_pages)
            log.info("%s: %d of %d scanned pages read so far", key, read.ocr_done,
                     read.ocr_pages)
        return read

    def _forget(self, key: str) -> None:
        ocr_pending.clear(self.store.conn, key)

    def after_batch(self, indexer: Indexer) -> None:
        """Once a batch is recorded: its archives' members beside them, and the scans with
        pages left back in the queue."""
        self.members.record(indexer)
        self.requeue()

    def requeue(self) -> int:
        """Queue again the files whose picture pages are not all read; returns how many."""
        if not ocr_pending.any_unqueued(self.store.conn):
            return 0
        with self.store.transaction() as conn:
            return ocr_pending.requeue(conn)

    def status(self, store: Store) -> dict[str, Any]:
        """The OCR line of `status`, from the caller's own connection."""
        return ocr_status(store, self)

    @property
    def readers(self) -> int:
        """Extraction children reading side by side."""
        return self._reader.size

    def prefetch(self, paths: Sequence[Path]) -> None:
        """Start reading the files that come next (engine/ingest/read_pool.py), and their
        OCR runs where they wait for one (engine/ingest/ocr_pool.py)."""
        self._reader.prefetch(self.members.request(self.store, p) for p in paths)
        if self.hold or self.unavailable is not None or not paths:
            return
        waiting = ocr_pending.among(self.store.conn, [str(p) for p in paths])
        if waiting:
            self._ocr.prefetch(p for p in paths if str(p) in waiting and not self._defer(str(p)))

    def close(self) -> None:
        self._reader.close()
        self._ocr.close()

    def __enter__(self) -> OcrStage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def index_folders_with_ocr(
    store: Store,
    config: Config,
    tokenizer: PassageTokenizer,
    vectors: PassageVectors | None,
    cache_dir: Path | None,
    folders: Sequence[Path],
    progress: ProgressCallback | None = None,
) -> IndexSummary:
    """`dowse index`: every file's text first, then OCR runs until every picture page is read.

    The summary counts each file once, as it ended up, with its final passages.
    """
    started = time.monotonic()
    passages: dict[str, int] = {}

    def note(outcome: FileOutcome) -> None:
        if outcome.state == "indexed":
            passages[outcome.path] = outcome.passages
        elif outcome.state in ("skipped", "failed", "removed"):
            passages.pop(outcome.path, None)

    meaning = MeaningStage(store, vectors, token_ids=TokenIds()) if vectors is not None else None
    with OcrStage(lambda: store, config, cache_dir) as stage, closing_meaning(meaning):
        # The meaning phase starts beside the words only where cores are free for it; else
        # (and its model loads) once every file is findable by its words.
        beside = meaning.pump if meaning is not None and overlaps_words(stage.readers) else None
        indexer = Indexer(store, config, tokenizer, vectors, extract=stage.extract, on_file=note,
                          after_file=beside,
                          prefetch=stage.prefetch,
                          token_ids=meaning.token_ids if meaning is not None else None)
        stage.hold = True
        summary = indexer.index_folders(folders, with_meaning(progress, meaning))
        _add(summary, stage.members.record(indexer))
        summary.words_seconds = time.monotonic() - started
        stage.hold = False
        walkers = {fid: FolderWalker(Path(root), config.walk) for fid, root, _ in store.folders()}
        while stage.requeue():
            before = (stage.pages_read, stage.pages_finished)
            _add(summary, indexer.index_queued(next_batch(store.conn, 10_000), walkers))
            _add(summary, stage.members.record(indexer))
            if (stage.pages_read, stage.pages_finished) == before:
                log.warning("OCR made no progress; %d file(s) left for the engine to finish",
                            ocr_pending.backlog(store.conn).files)
                break
        if stage.pages_finished:
            summary.ocr_seconds = time.monotonic() - started
            summary.ocr_pages = stage.pages_finished
        # Every file is read: the extraction children go before the meaning phase's long
        # drain instead of idling beside it (at least 300 MB on python3-doc).
        stage.close()
        if meaning is not None:
            meaning.drain(meaning_progress(progress, meaning, summary, started))
            summary.embedded, summary.reused = meaning.progress.embedded, (
                summary.reused + meaning.progress.reused)
            summary.meaning_seconds = time.monotonic() - started
            if vectors is not None:
                vectors.checkpoint()
    summary.indexed, summary.passages = len(passages), sum(passages.values())
    summary.seconds = time.monotonic() - started
    return summary


def _add(summary: IndexSummary, later: IndexSummary) -> None:
    """Fold a later pass into the run's summary (indexed and passages are counted apart)."""
    summary.skipped += later.skipped
    summary.failed += later.failed
    summary.embedded += later.embedded
    summary.reused += later.reused


def ocr_status(store: Store, stage: OcrStage | None = None) -> dict[str, Any]:
    """"reading scanned pages: 40 of 300", with rate and ETA, as status keys under "ocr"."""
    backlog = ocr_pending.backlog(store.conn)
    finished = stage.pages_finished if stage is not None else 0
    done, total = finished + backlog.pages_done, finished + backlog.pages_total
    rate = stage.pages_read / stage.seconds if stage is not None and stage.seconds > 0 else 0.0
    left = total - done
    if stage is not None and stage.unavailable is not None:
        state = "off"
    elif stage is not None and stage.current:
        state = "reading"
    else:
        state = "waiting" if left else "idle"
    return {
        "state": state,
        "note": (stage.unavailable or "") if stage is not None else "",
        "pages_done": done,
        "pages_total": total,
        "files_pending": backlog.files,
        "rate": round(rate, 2),
        "eta_seconds": round(left / rate, 1) if rate > 0 and left else None,
        "line": f"reading scanned pages: {done} of {total}" if left else "",
        "current": stage.current if stage is not None else "",
    }


def ocr_progress(store: Store, stage: OcrStage) -> dict[str, Any]:
    """The OCR keys of a progress event (protocol.Progress, `ocr_` fields)."""
    line = ocr_status(store, stage)
    return {"ocr_pages_done": line["pages_done"], "ocr_pages_total": line["pages_total"],
            "ocr_rate": line["rate"], "ocr_eta_seconds": line["eta_seconds"]}
