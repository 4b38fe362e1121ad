"""Open of a document inside an archive: a read-only copy in a private folder under the data dir,
unpacked by a child within the archive caps; removed by a forget of what holds it and at start."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from engine.config import Config
from engine.core import Engine
from engine.extract.members import member_label
from engine.serve import protocol
from engine.serve.member_files import OPENED_DIR, MemberFiles
from tests.helpers.documents import write_docx


def test_a_member_is_unpacked_privately_and_removed_with_its_folder(tmp_path: Path) -> None:
    root, data = tmp_path / "docs", tmp_path / "data"
    root.mkdir()
    write_docx(tmp_path / "letter.docx", "We thank the keeper for forty years of service.")
    with zipfile.ZipFile(root / "bundle.zip", "w") as archive:
        archive.write(tmp_path / "letter.docx", "old/letter.docx")
    engine = Engine(data)
    engine.index([root], keyword_only=True)
    files = MemberFiles(data, Config(), lambda: engine.store)
    try:
        entry = member_label(str(root / "bundle.zip"), "old/letter.docx")
        reply = files.open(protocol.OpenMember(id=3, path=entry))
        copy = Path(reply.file)
        assert (reply.id, reply.path, copy.name) == (3, entry, "letter.docx")
        assert copy.read_bytes() == (tmp_path / "letter.docx").read_bytes()
        assert oct(copy.stat().st_mode & 0o777) == "0o400"  # a copy: edits would be lost
        assert oct(copy.parent.stat().st_mode & 0o777) == "0o700"
        assert copy.parent.parent == data / OPENED_DIR
        assert sorted(p.name for p in root.iterdir()) == ["bundle.zip"]
        for made_up in (str(root / "bundle.zip"), member_label(str(root / "bundle.zip"), "x")):
            with pytest.raises(ValueError, match="not an indexed document inside an archive"):
                files.open(protocol.OpenMember(path=made_up))
        files.forget_under([str(tmp_path / "elsewhere")])
        assert copy.exists()
        files.forget_under([str(root)])
        assert not copy.exists()
        again = Path(files.open(protocol.OpenMember(path=entry)).file)
        files.clear()  # as the next engine does when it starts
        assert not again.exists() and not (data / OPENED_DIR).exists()
    finally:
        files.close()
        engine.close()


def test_reindexing_an_archive_reads_its_members_again(tmp_path: Path) -> None:
    """`dowse reindex bundle.zip`: the members lose their recorded digests, so the extraction
    child reads every one again instead of keeping them as unchanged."""
    from engine.ingest.member_paths import known_digests
    from engine.serve.changes import requeue_under
    from engine.store.queue import queue_length

    root = tmp_path / "docs"
    root.mkdir()
    with zipfile.ZipFile(root / "bundle.zip", "w") as archive:
        archive.writestr("a.txt", "The lighthouse lamp is lit at dusk every evening.")
        archive.writestr("b.txt", "The keeper logs every passing ship in the ledger.")
    engine = Engine(tmp_path / "data")
    try:
        engine.index([root], keyword_only=True)
        zip_ = str(root / "bundle.zip")
        assert sorted(known_digests(engine.store, zip_)) == ["a.txt", "b.txt"]
        assert all(d.startswith("member:zip:") for d in known_digests(engine.store, zip_).values())
        assert requeue_under(engine.store, zip_) == 1  # the archive is queued, not its members
        assert queue_length(engine.store.conn) == 1
        assert known_digests(engine.store, zip_) == {}
    finally:
        engine.close()
