"""SQLite storage: the source of truth for folders, files, passages and keyword search."""

from engine.store.database import ChunkRow, FileRow, SchemaTooNewError, Store
from engine.store.disk import DiskFullError
from engine.store.integrity import DatabaseCorruptError

__all__ = [
    "ChunkRow", "DatabaseCorruptError", "DiskFullError", "FileRow", "SchemaTooNewError", "Store",
]
