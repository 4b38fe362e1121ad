"""Records each document inside an archive as its own entry: `archive.zip › folder/member.pdf`.

The archive itself is indexed like any file (its text is the list of its members); the
extraction also hands back every member it read (engine/extract/members.py), and once the
archive's row is written they are recorded beside it, each with its own passages, kind and
pages, or with the reason it was not read. A member whose bytes did not change keeps its
entry as it was (the extraction child, told the recorded digests, does not even unpack it:
request()); one no longer in the archive loses it. The walker never sees members: the
indexer keeps their entries while their archive is on disk (archive_of), and a vanished
archive's members go the way any vanished file goes.
"""

from __future__ import annotations

import logging
from pathlib import Path

from engine.extract import Extracted, passage_boxes
from engine.extract.known_members import KnownMembers
from engine.extract.members import ArchiveExtracted, MemberDoc, member_label
from engine.ingest.chunk import chunk_document
from engine.ingest.indexer import Indexer
from engine.ingest.member_paths import known_digests, member_rows
from engine.ingest.outcomes import IndexSummary
from engine.ingest.recorder import PendingFile
from engine.ingest.walk import FoundFile
from engine.store import ChunkRow, FileRow, Store

log = logging.getLogger(__name__)


class ArchiveMembers:
    """Members read with their archive, waiting for the archive's row to be written."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[MemberDoc, ...]] = {}

    def request(self, store: Store, path: Path) -> Path | KnownMembers:
        """What the text child is sent for `path`: an archive goes with its members' recorded
        digests, so that only the members that changed are unpacked and read."""
        digests = known_digests(store, str(path))
        return KnownMembers(path, digests) if digests else path

    def note(self, path: Path, doc: Extracted) -> None:
        if isinstance(doc, ArchiveExtracted):
            self._waiting[str(path)] = doc.members

    def record(self, indexer: Indexer) -> IndexSummary:
        """Write the members of every archive indexed since the last call."""
        summary = IndexSummary()
        waiting, self._waiting = self._waiting, {}
        for archive, members in waiting.items():
            row = indexer.store.file_by_path(archive)
            if row is None or row.state != "indexed" or row.kind != "archive":
                continue  # the archive itself failed, or went, after it was read
            self._record_archive(indexer, row, members, summary)
        return summary

    def _record_archive(
        self, indexer: Indexer, archive: FileRow, members: tuple[MemberDoc, ...],
        summary: IndexSummary,
    ) -> None:
        before = {r.path: r for r in member_rows(indexer.store, archive.path)}
        pending: list[PendingFile] = []
        for member in members:
            label = member_label(archive.path, member.name)
            found = FoundFile(Path(label), member.size, archive.mtime)
            old = before.pop(label, None)
            if member.state == "unchanged":  # not even unpacked: its digest is as recorded
                if old is not None:
                    _keep(indexer, old, member, archive, summary)
                continue
            if member.doc is None:
                indexer.recorder.record_problem(archive.folder_id, found, member.state,
                                                member.reason)
                (summary.skipped if member.state == "skipped" else summary.failed).append(
                    (label, member.reason)
                )
                continue
            if old is not None and old.hash == member.digest and old.state == "indexed":
                _keep(indexer, old, member, archive, summary)
                continue
            try:
                pending.append(PendingFile(
                    archive.folder_id, found, member.digest, member.doc.kind,
                    _chunks(indexer, member.doc),
                ))
            except Exception as exc:  # one member's failure is that member's row
                log.exception("cannot cut %s into passages", label)
                indexer.recorder.record_problem(archive.folder_id, found, "failed",
                                                f"internal error: {exc}")
        indexer.recorder.flush(pending, summary)
        gone = [r.id for r in before.values()]
        if gone:
            indexer.recorder.remove_files(gone)
            summary.removed += len(gone)


def _keep(indexer: Indexer, old: FileRow, member: MemberDoc, archive: FileRow,
          summary: IndexSummary) -> None:
    """A member that did not change keeps its entry, passages and vectors."""
    summary.unchanged += 1
    if old.mtime != archive.mtime:
        indexer.store.touch_file(old.id, member.size, archive.mtime)


def _chunks(indexer: Indexer, doc: Extracted) -> list[ChunkRow]:
    passages = chunk_document(doc, indexer.tokenizer, indexer.config.chunk)
    return [ChunkRow(p.ordinal, p.start, p.end, p.page, p.heading, p.text,
                     passage_boxes(doc, p.start, p.end)) for p in passages]
