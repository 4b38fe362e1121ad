"""Forgetting for good: unpinning folders, and the purge that leaves no trace of what was removed.

Unpinning has always removed a folder's files, passages and vectors from the index; `dowse
forget` is the same removal for any number of paths, reported. Either way the removal is
then purged at the next save point (purge_traces): the vector index is saved with the
deleted vectors overwritten, and SQLite is purged (engine/store/purge.py).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.config import IndexConfig, SearchConfig
from engine.ingest.indexer import PassageVectors
from engine.store import Store
from engine.store.keyword_build import drop_stale_keyword_index, refresh_keyword_index
from engine.store.purge import PurgeResult, purge_database, purge_pending
from engine.store.repack import repack_if_due
from engine.vectors import VECTORS_FILE_NAME, prune_file

log = logging.getLogger(__name__)

OnUnpin = Callable[[int, str], None]  # (folder id, path), once each folder is gone


@dataclass(frozen=True)
class Forgotten:
    folders: tuple[str, ...]
    files: int
    passages: int

    def describe(self) -> str:
        return (
            f"forgot {', '.join(self.folders)}: {self.files} file(s) and {self.passages} "
            "passage(s) removed from the index, and purged from its files on disk"
        )


def folders_to_forget(
    pinned: Sequence[str], paths: Sequence[str], exact: bool = False
) -> list[str]:
    """The pinned folders at (or, unless `exact`, below) each of `paths`, in the order given.

    A path that holds no pinned folder is a ValueError that names it. So is one inside a
    pinned folder: forgetting part of a folder would last only until its next scan.
    """
    chosen: dict[str, None] = {}
    for raw in paths:
        path = os.path.abspath(os.path.expanduser(raw))
        under = [p for p in pinned if p == path or (not exact and _is_below(p, path))]
        if not under:
            outer = next((p for p in pinned if _is_below(path, p)), None)
            if outer is not None:
                raise ValueError(
                    f"{raw} is inside the pinned folder {outer}: forget that folder, or add "
                    "the path to walk.exclude (Settings: Skip these) and it is removed at the "
                    "next scan"
                )
            raise ValueError(f"not pinned: {raw}")
        chosen.update(dict.fromkeys(under))
    return list(chosen)


def forget_folders(
    store: Store,
    vectors: PassageVectors | None,
    roots: Sequence[str],
    on_unpin: OnUnpin | None = None,
) -> Forgotten:
    """Unpin each of `roots` and remove everything indexed under it; the purge comes after."""
    ids = {path: folder_id for folder_id, path, _state in store.folders()}
    files = passages = 0
    for root in roots:
        folder_id = ids[root]
        files += len(store.files_in_folder(folder_id))
        removed = store.unpin_folder(root) or []
        passages += len(removed)
        if removed and vectors is not None:
            vectors.apply(removed, [], np.empty((0, 0), dtype=np.float32))
        if on_unpin is not None:
            on_unpin(folder_id, root)
    return Forgotten(tuple(roots), files, passages)


def purge_traces(
    store: Store, vectors: PassageVectors | None, data_dir: Path | None, config: IndexConfig
) -> PurgeResult | None:
    """A save point: the vector index is saved (its deleted vectors scrubbed), then whatever
    was removed since the last purge is purged from SQLite; None when nothing was due. Once
    many passages were written since the last time, the database is repacked too
    (engine/store/repack.py).

    Without an open semantic side, the index file in `data_dir` is pruned against SQLite
    instead; pass None for `data_dir` while another thread may be opening that file.
    """
    if vectors is not None:
        vectors.checkpoint()
    purged = None
    if purge_pending(store):
        if vectors is None and data_dir is not None:
            prune_vectors(store, data_dir, config)
        purged = purge_database(store)
        drop_stale_keyword_index(store.path, store.conn)
    repack_if_due(store)
    return purged


# The engine rebuilds a stale keyword index at most once per ten times the last build's
# duration: at most a tenth of a core, however often its folders change.
REBUILD_SPACING = 10.0


def refresh_keywords(store: Store, config: SearchConfig, spacing: float = 0.0) -> None:
    """At an idle save point, the keyword index is brought up to date with FTS5 (built from
    `keyword_index_min` passages on; see refresh_keyword_index for `spacing`); a failure
    leaves keyword search to FTS5 alone."""
    try:
        refresh_keyword_index(store.path, store.conn, config.keyword_index_min, spacing)
    except (OSError, sqlite3.Error, ValueError) as exc:  # a full disk, an odd vocabulary
        log.warning("could not build the keyword index: %s", exc)


def prune_vectors(store: Store, data_dir: Path, config: IndexConfig) -> int:
    """Drop from the index file every vector whose passage SQLite no longer has."""
    path = data_dir / VECTORS_FILE_NAME
    dim = store.get_meta("model_dim")
    if dim is None:  # no model ever recorded: a file there cannot be checked, only removed
        path.unlink(missing_ok=True)
        return 0
    rows = store.conn.execute("SELECT id FROM chunks WHERE vector IS NOT NULL")
    return prune_file(path, int(dim), config, [int(r[0]) for r in rows])


def _is_below(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)
