"""Archives in a real `dowse serve`: Open unpacks a member to a private copy (never beside the
archive, removed at the next start); the preview draws pages of a PDF inside a zip, a 7z and
a `.pdf.gz`; an archive the watcher sees deleted takes its members with it at once; a changed
archive keeps the passages and vectors of the members that did not change."""

from __future__ import annotations

import base64
import gzip
import zipfile
from pathlib import Path

import py7zr
import pytest

from engine.extract.members import member_label
from engine.serve import protocol
from engine.serve.member_files import OPENED_DIR
from tests.helpers.documents import write_docx, write_pdf, write_txt
from tests.helpers.engine_process import paths_found, running_engine, wait_for, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.model]

# Reconciling is left to hours: whatever goes here goes because the watcher saw it.
CONFIG = "[watch]\nreconcile_minutes = 600\n"


def _folder(root: Path, work: Path) -> None:
    root.mkdir()
    work.mkdir()
    write_pdf(work / "log.pdf", "The keeper saw three schooners on Tuesday.")
    write_docx(work / "letter.docx", "We thank the keeper for forty years of service.")
    write_txt(work / "notes.txt", "Buy rope and lamp oil for the lighthouse.")
    with zipfile.ZipFile(root / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(work / "log.pdf", "logs/log.pdf")
        archive.write(work / "letter.docx", "letter.docx")
        archive.write(work / "notes.txt", "notes.txt")
    write_pdf(work / "chart.pdf", "The tide chart shows a spring tide at noon.")
    with py7zr.SevenZipFile(root / "charts.7z", "w") as archive:
        archive.write(work / "chart.pdf", "charts/chart.pdf")
    (root / "log.pdf.gz").write_bytes(gzip.compress((work / "log.pdf").read_bytes()))


def test_members_open_preview_and_go_with_their_archive(tmp_path: Path) -> None:
    root, data = tmp_path / "pinned", tmp_path / "data"
    _folder(root, tmp_path / "work")
    zip_, seven = root / "bundle.zip", root / "charts.7z"
    with running_engine(data, CONFIG) as (_process, client, _runtime):
        client.pin(str(root))
        status = wait_idle(client)
        assert status["failed"] == 0, client.errors()
        assert member_label(str(seven), "charts/chart.pdf") in paths_found(client, "spring tide")

        # Open: a read-only copy in a private folder under the data dir, never beside it.
        entry = member_label(str(zip_), "letter.docx")
        copy = Path(client.request(protocol.OpenMember(path=entry), protocol.MemberFile).file)
        assert copy.name == "letter.docx" and (data / OPENED_DIR) in copy.parents
        assert copy.read_bytes() == (tmp_path / "work" / "letter.docx").read_bytes()
        assert oct(copy.parent.stat().st_mode & 0o777) == "0o700"
        assert oct((data / OPENED_DIR).stat().st_mode & 0o777) == "0o700"
        assert sorted(p.name for p in root.iterdir()) == ["bundle.zip", "charts.7z",
                                                          "log.pdf.gz"]
        with pytest.raises(Exception, match="not an indexed document inside an archive"):
            client.request(protocol.OpenMember(path=str(root / "log.pdf.gz")),
                           protocol.MemberFile)

        # The preview draws pages of PDFs inside archives and compressed ones, marked.
        for path in (member_label(str(zip_), "logs/log.pdf"),
                     member_label(str(seven), "charts/chart.pdf"), str(root / "log.pdf.gz")):
            results = client.search("schooners spring tide", mode="keyword", k=20)["results"]
            hit = next(h for r in results for h in (r, *r.get("also_in", ()))
                       if h["path"] == path)
            page = client.page_image(path, hit["page"], hit["start"], hit["end"])
            assert base64.b64decode(page.png).startswith(b"\x89PNG"), path
            assert page.regions, f"no marked region on {path}"

        # A changed archive: only the log is read and stored again; the letter and the notes
        # keep their entries, passages and vectors (no file_indexed for them).
        client.subscribe()
        write_pdf(tmp_path / "work" / "log.pdf", "The keeper saw four brigantines on Friday.")
        with zipfile.ZipFile(zip_, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, inside in (("log.pdf", "logs/log.pdf"), ("letter.docx", "letter.docx"),
                                 ("notes.txt", "notes.txt")):
                archive.write(tmp_path / "work" / name, inside)
        wait_for(lambda: member_label(str(zip_), "logs/log.pdf") in paths_found(
            client, "brigantines"), 60.0, "the changed member")
        wait_idle(client)
        indexed = set()
        while (event := client.next_event(0.5)) is not None:
            if isinstance(event, protocol.FileIndexed):
                indexed.add(event.path)
        assert indexed == {str(zip_), member_label(str(zip_), "logs/log.pdf")}
        assert member_label(str(zip_), "letter.docx") in paths_found(client, "forty years")

        # Deleted: the members go as soon as the watcher sees it, not at a reconcile.
        zip_.unlink()
        wait_for(lambda: not any(" › " in p and p.startswith(str(zip_))
                                 for p in paths_found(client, "keeper service lamp oil", k=50))
                 or None, 30.0, "the deleted archive's members to go")
        assert not [e for e in client.errors() if e["path"].startswith(f"{zip_} › ")]
    # The next engine clears what the last one unpacked for viewers.
    with running_engine(data, CONFIG) as (_process, client, _runtime):
        wait_for(lambda: not copy.exists() or None, 30.0, "the old copy to be removed")
