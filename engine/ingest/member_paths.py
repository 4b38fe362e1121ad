"""The recorded entries of an archive's members: found by their archive's path, which the walk
(by nature) never lists, and which a folder prefix never matches (` › ` is no `/`)."""

from __future__ import annotations

import os

from engine.extract.members import ARCHIVE_SUFFIXES, archive_of, member_label
from engine.extract.unpacking import OPENERS
from engine.store import FileRow, Store
from engine.store.paths import path_from_db, path_to_db


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


def member_rows(store: Store, archive: str) -> list[FileRow]:
    """The entries of an archive's members, as recorded."""
    # Two ranges over the path's unique index, not a whole scan: the entries stored as text,
    # and those stored as bytes (a member name that is not UTF-8, engine/store/paths.py). The
    # label ends in the separator's space; "!" is the character after it.
    label = member_label(archive, "")
    stored = path_to_db(label)
    raw = stored if isinstance(stored, bytes) else os.fsencode(label)
    text = (stored, stored[:-1] + "!") if isinstance(stored, str) else ("", "")
    rows = store.conn.execute(
        "SELECT path FROM files WHERE (path >= ? AND path < ?) OR (path >= ? AND path < ?)",
        (*text, raw, raw[:-1] + b"!"),
    )
    found = [store.file_by_path(path_from_db(r[0])) for r in rows.fetchall()]
    return [row for row in found if row is not None]


def members_of(store: Store, path: str) -> list[FileRow]:
    """member_rows, for a path whose name says it may be an archive (cheap for any other)."""
    if not path.lower().endswith((*ARCHIVE_SUFFIXES, *OPENERS)):
        return []
    return member_rows(store, path)


def known_digests(store: Store, path: str) -> dict[str, str]:
    """Member name -> the digest it was indexed with, for an archive at `path`; what lets
    the extraction child skip members that did not change (engine/extract/members.py)."""
    prefix = len(member_label(path, ""))
    return {row.path[prefix:]: row.hash for row in members_of(store, path)
            if row.state == "indexed" and row.hash}
