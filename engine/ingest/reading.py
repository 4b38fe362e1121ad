"""Reads one file for the index, and turns whatever goes wrong into that file's outcome.

Cheap checks come first (engine.ingest.checks), then a hash of exactly the bytes stat
promised, then extraction (in the extraction child, under its time and memory limits) and
chunking, which share the per-file time limit. The file is stat'ed again at the end: one that
changed meanwhile is read again later rather than stored half-read.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.config import Config
from engine.extract import Extracted, ExtractError, UnsupportedFile, passage_boxes
from engine.ingest.checks import (
    FileChangedError,
    FileProblem,
    FileVanishedError,
    bounded_digest,
    check_stat,
    describe_os_error,
    same_file,
    stat_file,
)
from engine.ingest.chunk import (
    ChunkingTimeoutError,
    PassageTokenizer,
    chunk_document,
    passages_from_spans,
)
from engine.ingest.walk import FoundFile
from engine.store import ChunkRow, DatabaseCorruptError, DiskFullError

log = logging.getLogger(__name__)

Extract = Callable[[Path], Extracted]


@dataclass(frozen=True)
class Checked:
    """A file that passed the cheap checks, as stat saw it just before it was hashed."""

    found: FoundFile
    st: os.stat_result
    digest: str


def check_and_hash(found: FoundFile, max_bytes: int) -> Checked:
    """Stat, check and hash one file; raises FileProblem, FileChangedError, FileVanishedError."""
    if found.problem:
        raise FileProblem(found.problem)
    st = stat_file(found.path)
    check_stat(found.path, st, max_bytes)
    digest = bounded_digest(found.path, st)
    return Checked(FoundFile(found.path, st.st_size, st.st_mtime), st, digest)


def extract_and_chunk(
    checked: Checked, extract: Extract, tokenizer: PassageTokenizer, config: Config
) -> tuple[str, list[ChunkRow]]:
    """The file's kind and passages, within the per-file time limit; raises as check_and_hash,
    or ExtractError."""
    started = time.monotonic()
    doc = extract(checked.found.path)
    if doc.cut is not None:  # cut by the extraction child (engine/ingest/read_child.py)
        passages = passages_from_spans(doc, doc.cut, doc.cut_ids)
    else:
        deadline = started + config.extract.timeout_seconds
        passages = chunk_document(doc, tokenizer, config.chunk, deadline=deadline)
    if not same_file(checked.st, stat_file(checked.found.path)):
        raise FileChangedError(f"{checked.found.path} changed while it was read")
    chunks = [
        ChunkRow(p.ordinal, p.start, p.end, p.page, p.heading, p.text,
                 passage_boxes(doc, p.start, p.end), p.ids)
        for p in passages
    ]
    return doc.kind, chunks


def is_storage_fault(exc: BaseException) -> bool:
    """Whether `exc` is the data dir's fault (a full disk, a damaged or locked database), which
    stops the batch for its caller to handle, rather than one file's."""
    if isinstance(exc, DiskFullError | DatabaseCorruptError | sqlite3.OperationalError):
        return True
    return type(exc) is sqlite3.DatabaseError  # "database disk image is malformed"


def failure_of(exc: Exception, path: Path) -> tuple[str, str] | None:
    """(state, reason) to record for a file that raised `exc`, or None for a file that is gone
    (dropped quietly). A bug, an exception nobody expected, is also logged with its traceback."""
    if isinstance(exc, FileVanishedError):
        return None
    if isinstance(exc, FileProblem):
        return exc.state, exc.reason
    if isinstance(exc, UnsupportedFile):
        return "skipped", str(exc)
    if isinstance(exc, ChunkingTimeoutError):
        return "failed", f"took too long to read: {exc}"
    if isinstance(exc, ExtractError | OSError):
        if not os.path.lexists(path):
            return None  # deleted while it was read: not a failure
        if isinstance(exc, OSError):
            return "failed", describe_os_error(exc)
        return "failed", str(exc) or type(exc).__name__
    log.error("unexpected error indexing %r", str(path), exc_info=exc)
    return "failed", f"internal error: {type(exc).__name__}: {exc}"
