"""Turns changes, seen by the watcher or asked for by a user, into rows of the work queue."""

from __future__ import annotations

import time

from engine.config import WalkConfig
from engine.ingest.member_paths import members_of
from engine.ingest.walk import FolderWalker
from engine.ingest.watch import WatchBatch
from engine.store import Store
from engine.store import queue as work_queue


def queue_batch(batch: WatchBatch, folder_id: int, store: Store, walk: WalkConfig) -> bool:
    """Queue the paths a batch touched; returns whether the folder needs a scan as well.

    A moved file is queued at both ends: the worker recognises the move by its content.
    """
    scan = batch.overflowed or bool(batch.rescan) or any(
        p.name == ".gitignore" for p in (*batch.changed, *batch.removed)
    )
    paths = set(batch.changed) | set(batch.removed)
    for src, dest in batch.moved:
        paths.update((src, dest))
    if not paths:
        return scan
    walker = FolderWalker(batch.root, walk)
    now = time.time()
    entries = [
        (str(path), folder_id, 0, now)
        for path in paths
        if walker.is_included(path) or store.file_by_path(str(path)) is not None
    ]
    if entries:
        with store.transaction() as conn:
            work_queue.enqueue(conn, entries, work_queue.PRIORITY_EDIT)
    return scan


def requeue_under(store: Store, target: str) -> int:
    """Queue the file at `target`, or every file under it, to be read again; returns how many."""
    rows = store.files_under(target)
    members = [m for r in rows for m in members_of(store, r.path)]  # read again with their archive
    with store.transaction() as conn:
        # Clearing the hash makes the worker read the file again, not trust its mtime.
        conn.executemany(
            "UPDATE files SET hash = NULL, size = -1 WHERE id = ?",
            [(r.id,) for r in (*rows, *members)],
        )
        work_queue.enqueue(
            conn, [(r.path, r.folder_id, r.size, r.mtime) for r in rows], work_queue.PRIORITY_EDIT
        )
    return len(rows)
