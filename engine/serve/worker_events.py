"""The events the worker publishes as it goes: each file's outcome, and overall progress."""

from __future__ import annotations

from engine.ingest.indexer import FileOutcome
from engine.ingest.meaning import MeaningStage
from engine.ingest.ocr_stage import OcrStage, ocr_progress
from engine.ingest.status import RunStats, meaning_fields
from engine.serve import protocol
from engine.store import Store
from engine.store import queue as work_queue


def file_event(outcome: FileOutcome, stats: RunStats) -> protocol.Message | None:
    """FileIndexed or FileFailed for one file's outcome (None for the others)."""
    stats.current = outcome.path
    if outcome.state == "indexed":
        return protocol.FileIndexed(
            path=outcome.path, passages=outcome.passages, embedded=outcome.embedded
        )
    if outcome.state == "failed":
        stats.failed += 1
        return protocol.FileFailed(path=outcome.path, reason=outcome.reason)
    return None


def progress_event(
    store: Store, stats: RunStats, ocr: OcrStage, meaning: MeaningStage | None
) -> protocol.Progress:
    """Both phases in one event: files findable by their words, passages by their meaning,
    and OCR's scanned pages, each with its rate and ETA."""
    queued = work_queue.queue_length(store.conn)
    rate = stats.rate()
    return protocol.Progress(
        queued=queued, done=stats.done, failed=stats.failed,
        bytes=stats.bytes, rate=round(rate, 2),
        eta_seconds=round(queued / rate, 1) if rate > 0 and queued else None,
        current=stats.current, **ocr_progress(store, ocr), **meaning_fields(store, meaning),
    )
