"""The second phase of indexing: embed the passages that are findable by their words only.

The first phase (engine/ingest/indexer.py, recorder.py) writes each file's passages with no
vector, so a file is findable by its words as soon as it is read. This stage takes those
passages across files, a batch at a time, in the order they were written: each distinct text
is embedded once, a text that got a vector meanwhile elsewhere in the index reuses it, and
the batch's vectors are written in one transaction and added to the HNSW index. What is left
is in SQLite (chunks_unembedded), so a killed run resumes where it stopped.

`step()` embeds one batch on the caller's thread (the engine's worker, between queued
files). `pump()` and `drain()` run the encoder on threads of their own while the caller reads
files (`dowse index`): the caller writes every result, so only one thread writes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from engine.embed.lazy import ModelLoadError
from engine.embed.threads import pin_share_of_cores, usable_cores
from engine.ingest.heap import give_back_free_memory
from engine.ingest.outcomes import IndexProgress, IndexSummary
from engine.ingest.reading import is_storage_fault
from engine.ingest.recorder import PassageVectors
from engine.ingest.token_ids import TokenIds
from engine.store import Store
from engine.store.pending_vectors import (
    Unembedded,
    next_unembedded,
    passage_count,
    pending_count,
    stored_vectors,
    write_vectors,
)

log = logging.getLogger(__name__)

# Passages per batch: enough for the encoder to sort by length and fill its batches, few
# enough that a new file's words never wait long behind one (about a second on 2 cores).
BATCH_PASSAGES = 512
# Passages embedded between save points of the vector index during a long meaning phase.
CHECKPOINT_PASSAGES = 20_000
# The encoder thread is background work beside the words phase: it yields the CPU first,
# even to the extraction children (nice 10), which the words wait for. At nice 15 the kernel
# still gave it a quarter of a core beside each busy child (weights 36 against 110); at 19
# (15 against 110) about an eighth, and all that the words phase leaves idle.
ENCODER_NICE = 19
# Cores the words phase keeps busy beyond its extraction children: the process recording them.
RECORDER_CORES = 1
# Encoder threads, each pinned to its share of the cores (engine/embed/threads.py): on 2 cores
# two workers of one torch thread embedded 11% faster than one of two (BENCHMARKS.md,
# "embed-throughput"). An encoder that cannot run two calls at once (OpenVINO, a GPU, or one
# not loaded yet) gets its batches on the first worker only, in turn.
ENCODER_WORKERS = 2


def overlaps_words(readers: int) -> bool:
    """Whether the meaning phase should run beside the words phase (`dowse index`): only on
    cores that the extraction children and the recorder leave free. On a busy machine it gained
    nothing there (46 passages embedded in the 17 s of python3-doc's words phase on 2 cores)
    and cost the words 30%: its threads, starved at ENCODER_NICE, held the GIL that the
    recorder waited for (while torch was imported, and between kernels)."""
    return usable_cores() > readers + RECORDER_CORES


@dataclass
class MeaningProgress:
    """How far the meaning phase is: passages embedded (or reused) in this run, and left."""

    embedded: int = 0
    reused: int = 0
    seconds: float = 0.0
    left: int = 0
    started: float = field(default_factory=time.monotonic)

    def rate(self) -> float:
        done = self.embedded + self.reused
        return done / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Batch:
    rows: list[Unembedded]
    texts: list[str]  # the distinct texts sent to the encoder
    vectors: Future[np.ndarray] | None
    ids: list[array[int] | None] = field(default_factory=list)  # each text's word pieces


class MeaningStage:
    def __init__(
        self, store: Store, vectors: PassageVectors, batch_passages: int = BATCH_PASSAGES,
        token_ids: TokenIds | None = None,
    ) -> None:
        self.store = store
        self.vectors = vectors
        # Word pieces the recorder left for passages it wrote (engine/ingest/token_ids.py).
        self.token_ids = token_ids
        self.batch_passages = batch_passages
        self.progress = MeaningProgress()
        self._inflight: list[_Batch] = []
        self._refused: set[int] = set()  # passages the encoder refused, left out this run
        self._since_checkpoint = 0
        self._pools: dict[int, ThreadPoolExecutor] = {}  # by worker count
        self._busy = _BusyClock(self.progress)

    def left(self) -> int:
        """Passages with no vector yet, in the whole index."""
        self.progress.left = pending_count(self.store.conn)
        return self.progress.left

    # -- on the caller's thread ------------------------------------------------------------

    def step(self) -> int:
        """Embed and store one batch; returns how many passages got a vector (0: none left)."""
        batch = self._take(set())
        if batch is None:
            return 0
        try:
            vectors = self._embed(batch.texts, batch.ids) if batch.texts else None
        except Exception as exc:
            vectors = self._isolate(batch, exc)
        return self._write(batch, vectors)

    # -- with the encoder on its own thread ------------------------------------------------

    def pump(self, depth: int = ENCODER_WORKERS + 1) -> int:
        """Store the batches the encoder has finished and keep `depth` batches in flight;
        returns how many passages got a vector. Never waits for the encoder."""
        written = 0
        while self._inflight and self._ready(self._inflight[0]):
            written += self._finish(self._inflight.pop(0))
        while len(self._inflight) < depth:
            skip = {r.id for b in self._inflight for r in b.rows}
            # A text already on its way is not sent twice: the batch written before this
            # one stores it, and this one's rows then reuse it (as from another file).
            batch = self._take(skip, {t for b in self._inflight for t in b.texts})
            if batch is None:
                break
            if batch.texts:
                batch.vectors = self._worker().submit(self._embed, batch.texts, batch.ids)
            self._inflight.append(batch)
        return written

    def drain(self, progress: Callable[[MeaningProgress], None] | None = None) -> int:
        """Embed everything left, then return how many passages got a vector."""
        written = 0
        while True:
            written += self.pump()
            if not self._inflight:
                break
            written += self._finish(self._inflight.pop(0))  # waits for the encoder
            if progress is not None:
                progress(self.progress)
        return written

    def close(self) -> None:
        """Stop the encoder thread; batches in flight are dropped (their passages stay
        unembedded in the store, for the next run)."""
        for batch in self._inflight:
            if batch.vectors is not None:
                batch.vectors.cancel()
        self._inflight.clear()
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._pools.clear()

    def _worker(self) -> ThreadPoolExecutor:
        """ENCODER_WORKERS threads while the encoder takes calls side by side (torch on a
        CPU, once loaded), else one: its batches then run in turn, as they would anyway."""
        side_by_side = getattr(self.vectors, "encodes_side_by_side", None)
        workers = ENCODER_WORKERS if side_by_side is not None and side_by_side() else 1
        pool = self._pools.get(workers)
        if pool is None:
            pool = self._pools[workers] = ThreadPoolExecutor(
                workers, thread_name_prefix="dowse-embed", initializer=_encoder_thread
            )
        return pool

    def _embed(
        self, texts: Sequence[str], ids: Sequence[array[int] | None] = ()
    ) -> np.ndarray:
        with_ids = getattr(self.vectors, "embed_passages_with_ids", None)
        with self._busy:
            if with_ids is not None and any(p is not None for p in ids):
                vectors: np.ndarray = with_ids(texts, ids)
                return vectors
            return self.vectors.embed_passages(texts)

    @staticmethod
    def _ready(batch: _Batch) -> bool:
        return batch.vectors is None or batch.vectors.done()

    def _finish(self, batch: _Batch) -> int:
        try:
            vectors = batch.vectors.result() if batch.vectors is not None else None
        except Exception as exc:
            vectors = self._isolate(batch, exc)
        return self._write(batch, vectors)

    def _isolate(self, batch: _Batch, exc: Exception) -> np.ndarray | None:
        """The encoder refused a batch: embed its texts one by one. A text it refuses alone
        stays without a vector (findable by its words) and is not tried again this run."""
        if is_storage_fault(exc) or isinstance(exc, ModelLoadError):
            raise exc  # every later batch would fail alike: nothing to isolate
        log.warning("embedding %d passages at once failed (%s); one by one", len(batch.texts), exc)
        good: list[str] = []
        vectors: list[np.ndarray] = []
        for text in batch.texts:
            try:
                vectors.append(self._embed([text])[0])
                good.append(text)
            except Exception as one:
                if is_storage_fault(one):
                    raise
                log.error("a passage cannot be embedded (%s); it is found by its words only", one)
                self._refused.update(r.id for r in batch.rows if r.text == text)
        batch.texts = good
        return np.stack(vectors) if vectors else None

    # -- the store side ------------------------------------------------------------------

    def _take(self, skip: set[int], sent: AbstractSet[str] = frozenset()) -> _Batch | None:
        """The next batch: its passages, and the distinct texts no stored vector covers."""
        rows = next_unembedded(self.store.conn, self.batch_passages, skip | self._refused)
        if not rows:
            return None
        pieces: dict[str, array[int] | None] = {}
        for row in rows:  # every row's ids are taken, so none stays behind in the cache
            found = self.token_ids.take(row.id) if self.token_ids is not None else None
            if pieces.get(row.text) is None:
                pieces[row.text] = found
        known = stored_vectors(self.store.conn, list(pieces))
        texts = [t for t in pieces if t not in known and t not in sent]
        return _Batch(rows, texts, None, [pieces[t] for t in texts])

    def _write(self, batch: _Batch, vectors: np.ndarray | None) -> int:
        # Each text's stored blob and its vector for the HNSW index: the batch's own, then
        # those of texts embedded meanwhile elsewhere (another batch, another file).
        blobs: dict[str, bytes] = {}
        unit: dict[str, np.ndarray] = {}
        if vectors is not None and batch.texts:
            columns = self.vectors.vector_column(vectors)
            blobs = {t: bytes(c["vector"]) for t, c in zip(batch.texts, columns, strict=True)}
            unit = dict(zip(batch.texts, vectors, strict=True))
        missing = {r.text for r in batch.rows if r.text not in blobs}
        reused = stored_vectors(self.store.conn, missing) if missing else {}
        if reused:
            unit.update(zip(reused, self.vectors.blob_vectors(list(reused.values())), strict=True))
            blobs.update(reused)
        rows = [(r.id, r.text, blobs[r.text]) for r in batch.rows if r.text in blobs]
        with self.store.transaction() as conn:
            written = set(write_vectors(conn, rows))
        kept = [r for r in batch.rows if r.id in written]
        ids = [r.id for r in kept]
        if ids:
            self.vectors.apply([], ids, np.stack([np.asarray(unit[r.text]) for r in kept]))
        self._since_checkpoint += len(ids)
        give_back_free_memory()  # each batch's activations, freed, stay mapped otherwise
        if self._since_checkpoint >= CHECKPOINT_PASSAGES:
            self.vectors.checkpoint()  # a save point (and where a growing graph is projected)
            self._since_checkpoint = 0
        self.progress.embedded += len(batch.texts)
        self.progress.reused += max(0, len(ids) - len(batch.texts))
        return len(ids)


class _BusyClock:
    """Adds to progress.seconds the wall time in which any encoder thread is embedding, so
    the rate (and the ETA) stays per second of the phase with two threads at work."""

    def __init__(self, progress: MeaningProgress) -> None:
        self.progress = progress
        self._lock = threading.Lock()
        self._working = 0
        self._since = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._working == 0:
                self._since = time.monotonic()
            self._working += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._working -= 1
            if self._working == 0:
                self.progress.seconds += time.monotonic() - self._since


def _encoder_thread() -> None:
    """Linux keeps a nice value per thread: the encoder's (and the threads it starts,
    which inherit it) let the words phase have the CPU first. Each worker runs its share of
    the cores' torch threads."""
    pin_share_of_cores(ENCODER_WORKERS)
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ENCODER_NICE)
        except OSError:
            log.debug("cannot lower the encoder thread's priority")


# -- `dowse index`: both phases in one progress line ------------------------------------------

Progress = Callable[[IndexProgress], None]
# Counting what is left reads the partial index: at most this often.
COUNT_EVERY_SECONDS = 0.5


class _Counts:
    """Passages with a vector, of all, counted at most every COUNT_EVERY_SECONDS."""

    def __init__(self, meaning: MeaningStage) -> None:
        self.meaning = meaning
        self.at = 0.0
        self.embedded = self.total = 0

    def now(self, force: bool = False) -> tuple[int, int]:
        if force or time.monotonic() - self.at >= COUNT_EVERY_SECONDS:
            conn = self.meaning.store.conn
            self.total = passage_count(conn)
            self.embedded = self.total - self.meaning.left()
            self.at = time.monotonic()
        return self.embedded, self.total


def with_meaning(progress: Progress | None, meaning: MeaningStage | None) -> Progress | None:
    """The words phase's progress, with how far the meaning phase is beside it."""
    if progress is None or meaning is None:
        return progress
    counts = _Counts(meaning)

    def report(p: IndexProgress) -> None:
        embedded, total = counts.now(force=p.done >= p.total)
        progress(dataclasses.replace(p, embedded=embedded, passages=total))

    return report


def meaning_progress(
    progress: Progress | None, meaning: MeaningStage, summary: IndexSummary, started: float
) -> Callable[[MeaningProgress], None] | None:
    """After the words phase: the same line, files all done, the meaning share growing."""
    if progress is None:
        return None
    counts = _Counts(meaning)
    files = summary.indexed + summary.unchanged + len(summary.skipped) + len(summary.failed)

    def report(m: MeaningProgress) -> None:
        embedded, total = counts.now()
        rate = m.rate()
        eta = (total - embedded) / rate if rate > 0 else None
        progress(IndexProgress(files, files, len(summary.failed), summary.bytes,
                               time.monotonic() - started, "", embedded, total, eta))

    return report


@contextmanager
def closing_meaning(meaning: MeaningStage | None) -> Iterator[MeaningStage | None]:
    try:
        yield meaning
    finally:
        if meaning is not None:
            meaning.close()
