"""SQLite storage: the source of truth for folders, files, passages and keyword search."""

from engine.store.database import ChunkRow, FileRow, SchemaTooNewError, Store

__all__ = ["ChunkRow", "FileRow", "SchemaTooNewError", "Store"]
