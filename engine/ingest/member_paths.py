"""Whether an archive member's entry outlives a walk that, by nature, never lists members."""

from __future__ import annotations

from engine.extract.members import archive_of
from engine.store import FileRow, Store


def stays_with_archive(store: Store, row: FileRow, seen: set[str]) -> bool:
    """A member's entry stays while its archive was walked, or when it moved with its
    archive (renamed since `row` was read: the store moves members along, schema 6)."""
    archive = archive_of(row.path)
    if archive is None:
        return False
    if archive in seen:
        return True
    now = store.conn.execute("SELECT path FROM files WHERE id = ?", (row.id,)).fetchone()
    return now is not None and store.file_by_path(row.path) is None
