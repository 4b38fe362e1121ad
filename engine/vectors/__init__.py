"""Vector search over chunks: an HNSW index derived from SQLite and repaired from it."""

from engine.vectors.hnsw_file import CorruptIndexError, IndexFileError, IndexMismatchError
from engine.vectors.index import LabelFilter, VectorIndex
from engine.vectors.repair import (
    FetchVectors,
    ReconcileReport,
    open_or_rebuild,
    prune_file,
    reconcile,
)
from engine.vectors.rwlock import RWLock

VECTORS_FILE_NAME = "vectors.hnsw"  # the index file, in the data dir

__all__ = [
    "CorruptIndexError",
    "FetchVectors",
    "IndexFileError",
    "IndexMismatchError",
    "LabelFilter",
    "RWLock",
    "VECTORS_FILE_NAME",
    "ReconcileReport",
    "VectorIndex",
    "open_or_rebuild",
    "prune_file",
    "reconcile",
]
