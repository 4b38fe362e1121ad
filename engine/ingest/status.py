"""What `dowse status` reports per pinned folder, shared by the engine process and the CLI."""

from __future__ import annotations

import time
from typing import Any

from engine.ingest.meaning import MeaningStage
from engine.store import Store
from engine.store.pending_vectors import passage_count, pending_count
from engine.store.queue import queued_per_folder


def folder_rows(
    store: Store, watch: dict[str, str] | None = None, paused: set[str] | None = None
) -> list[dict[str, Any]]:
    """One row per pinned folder: file counts by state, queued work, and how it is watched."""
    queued = queued_per_folder(store.conn)
    rows = []
    for folder_id, path, state in store.folders():
        per = store.conn.execute(
            "SELECT COUNT(*), SUM(state = 'indexed'), SUM(state = 'failed'),"
            " SUM(state = 'skipped') FROM files WHERE folder_id = ?",
            (folder_id,),
        ).fetchone()
        rows.append({
            "path": path, "state": state, "files": int(per[0] or 0),
            "indexed": int(per[1] or 0), "failed": int(per[2] or 0),
            "skipped": int(per[3] or 0), "queued": queued.get(folder_id, 0),
            "watch": (watch or {}).get(path, "none"),
            "paused": path in (paused or set()),
        })
    return rows


class RunStats:
    """Counts for the current stretch of work, for progress, rate and ETA."""

    def __init__(self) -> None:
        self.started = 0.0
        self.done = self.failed = self.bytes = 0
        self.current = ""

    def begin_if_idle(self) -> None:
        if not self.started:
            self.started = time.monotonic()
            self.done = self.failed = self.bytes = 0

    def end(self) -> None:
        self.started = 0.0
        self.current = ""

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started if self.started else 0.0
        return self.done / elapsed if elapsed > 0 else 0.0


def meaning_fields(store: Store, meaning: MeaningStage | None) -> dict[str, Any]:
    """Progress's meaning fields, counted on the caller's connection (partial indexes)."""
    total = passage_count(store.conn)
    left = pending_count(store.conn)
    rate = meaning.progress.rate() if meaning is not None else 0.0
    return {
        "embedded": total - left,
        "passages": total,
        "meaning_rate": round(rate, 2),
        "meaning_eta_seconds": round(left / rate, 1) if rate > 0 and left else None,
    }


def meaning_status(
    store: Store, meaning: MeaningStage | None, findable: int, files: int
) -> dict[str, Any]:
    """The "meaning" block of status: both phases in one line, with the meaning's rate."""
    fields = meaning_fields(store, meaning)
    # Files queued and not seen before are files too (the first pass over a folder).
    files += int(store.conn.execute(
        "SELECT COUNT(*) FROM queue q"
        " WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.path = q.path)"
    ).fetchone()[0])
    total, embedded = fields["passages"], fields["embedded"]
    share = embedded / total if total else 1.0
    return {
        **fields,
        "share": round(share, 4),
        "line": f"findable by words: {findable:,} of {files:,} files · by meaning: {share:.0%}",
    }
