"""7z archives read like zip and tar, within the same caps; and a member whose recorded digest
still matches its archive's signature is not even unpacked (zip CRC/size, tar size/mtime)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import py7zr
import pytest

from engine.extract import UnsupportedFile, extract_file
from engine.extract.known_members import KnownMembers, extract_with_known
from engine.extract.members import ArchiveExtracted, member_label, unpack_member_to
from engine.extract.unpacking import private_folder
from tests.helpers.documents import write_docx, write_pdf, write_txt

MB = 1024 * 1024


def _documents(folder: Path) -> dict[str, bytes]:
    folder.mkdir(exist_ok=True)
    write_txt(folder / "notes.txt", "Buy rope and lamp oil for the lighthouse.")
    write_pdf(folder / "log.pdf", "The keeper saw three ships on Tuesday.")
    write_docx(folder / "letter.docx", "We thank the keeper for forty years of service.")
    return {"notes.txt": (folder / "notes.txt").read_bytes(),
            "logs/log.pdf": (folder / "log.pdf").read_bytes(),
            "letter.docx": (folder / "letter.docx").read_bytes()}


def _seven_zip(path: Path, members: dict[str, bytes], password: str | None = None) -> None:
    with py7zr.SevenZipFile(path, "w", password=password) as archive:
        for name, data in members.items():
            archive.writestr(data, name)


def test_each_member_of_a_7z_is_read_under_its_name(tmp_path: Path) -> None:
    members = _documents(tmp_path / "src")
    _seven_zip(tmp_path / "bundle.7z", {**members, "inner.zip": b"PK\x05\x06" + b"\0" * 18})
    doc = extract_file(tmp_path / "bundle.7z", 50 * MB)
    assert isinstance(doc, ArchiveExtracted) and doc.kind == "archive"
    read = {m.name: m for m in doc.members}
    for sentence, member, kind in [("lamp oil", "notes.txt", "text"),
                                   ("three ships", "logs/log.pdf", "pdf"),
                                   ("forty years", "letter.docx", "docx")]:
        inner = read[member].doc
        assert inner is not None and sentence in inner.text and inner.kind == kind
        assert read[member].digest.startswith("member:7z:")
    assert (read["inner.zip"].state, read["inner.zip"].reason) == (
        "skipped", "an archive inside an archive is not opened")
    with private_folder() as folder:
        opened = unpack_member_to(member_label(str(tmp_path / "bundle.7z"), "logs/log.pdf"),
                                  folder)
        assert opened.read_bytes() == members["logs/log.pdf"]


def test_a_7z_bomb_is_refused_with_a_reason(tmp_path: Path) -> None:
    _seven_zip(tmp_path / "bomb.7z", {"zeros.txt": b"\0" * (300 * MB)})
    assert (tmp_path / "bomb.7z").stat().st_size < MB
    with pytest.raises(UnsupportedFile, match="zip bomb"):
        extract_file(tmp_path / "bomb.7z", 50 * MB)


def test_a_7z_of_many_small_members_is_refused_past_the_member_count(tmp_path: Path) -> None:
    _seven_zip(tmp_path / "many.7z", {f"n/{i}.txt": b"x" for i in range(10_001)})
    with pytest.raises(UnsupportedFile, match="parts"):
        extract_file(tmp_path / "many.7z", 50 * MB)


def test_an_encrypted_7z_is_refused_not_asked_about(tmp_path: Path) -> None:
    _seven_zip(tmp_path / "locked.7z", {"a.txt": b"secret words"}, password="hunter2")
    with pytest.raises(UnsupportedFile, match="encrypted"):
        extract_file(tmp_path / "locked.7z", 50 * MB)


def test_a_corrupt_7z_is_a_failure_with_a_reason(tmp_path: Path) -> None:
    _seven_zip(tmp_path / "cut.7z", {"a.txt": b"some words to read " * 100})
    data = (tmp_path / "cut.7z").read_bytes()
    (tmp_path / "cut.7z").write_bytes(data[: len(data) // 2])
    with pytest.raises(Exception, match="7z|corrupt|archive"):
        extract_file(tmp_path / "cut.7z", 50 * MB)


def _tar(path: Path, members: dict[str, bytes], mtime: float = 1_700_000_000) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            archive.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("name", ["bundle.zip", "bundle.tar.gz", "bundle.7z"])
def test_a_member_with_its_recorded_digest_is_not_read_again(tmp_path: Path, name: str) -> None:
    members = _documents(tmp_path / "src")
    path = tmp_path / name
    write = {".zip": _zip, ".gz": _tar, ".7z": _seven_zip}[path.suffix]
    write(path, members)
    first = extract_file(path, 50 * MB)
    assert isinstance(first, ArchiveExtracted)
    digests = {m.name: m.digest for m in first.members}
    # The letter changes; the notes and the log keep the digests they were recorded with.
    write_docx(tmp_path / "new.docx", "We thank the keeper for fifty years of service.")
    changed = {**members, "letter.docx": (tmp_path / "new.docx").read_bytes()}
    write(path, changed)
    known = {n: d for n, d in digests.items() if n != "letter.docx"} | {
        "letter.docx": digests["letter.docx"]}
    again = extract_with_known(KnownMembers(path, known), 50 * MB)
    assert isinstance(again, ArchiveExtracted)
    states = {m.name: (m.state, m.doc is not None) for m in again.members}
    assert states == {"notes.txt": ("unchanged", False), "logs/log.pdf": ("unchanged", False),
                      "letter.docx": ("indexed", True)}
    assert {m.name: m.digest for m in again.members if m.state == "unchanged"} == {
        n: digests[n] for n in ("notes.txt", "logs/log.pdf")}
    # Told nothing, every member is read.
    plain = extract_with_known(path, 50 * MB)
    assert isinstance(plain, ArchiveExtracted)
    assert all(m.state == "indexed" for m in plain.members)


def test_a_tar_member_touched_since_is_read_again(tmp_path: Path) -> None:
    members = _documents(tmp_path / "src")
    _tar(tmp_path / "b.tar.gz", members)
    first = extract_file(tmp_path / "b.tar.gz", 50 * MB)
    assert isinstance(first, ArchiveExtracted)
    _tar(tmp_path / "b.tar.gz", members, mtime=1_800_000_000)
    again = extract_with_known(
        KnownMembers(tmp_path / "b.tar.gz", {m.name: m.digest for m in first.members}), 50 * MB)
    assert isinstance(again, ArchiveExtracted)
    assert {m.state for m in again.members} == {"indexed"}


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_pages_of_a_pdf_inside_an_archive_or_compressed_are_drawn_marked(
    tmp_path: Path,
) -> None:
    import gzip

    from engine.extract.page_image import PageRequest, render_page

    members = _documents(tmp_path / "src")
    _zip(tmp_path / "bundle.zip", members)
    _seven_zip(tmp_path / "bundle.7z", members)
    (tmp_path / "log.pdf.gz").write_bytes(gzip.compress(members["logs/log.pdf"]))
    for path in (member_label(str(tmp_path / "bundle.zip"), "logs/log.pdf"),
                 member_label(str(tmp_path / "bundle.7z"), "logs/log.pdf"),
                 str(tmp_path / "log.pdf.gz")):
        drawn = render_page(PageRequest(path, 2, "The keeper saw three ships on Tuesday.",
                                        "pdf", 400, 1 << 20), 50 * MB)
        assert drawn.png.startswith(b"\x89PNG") and drawn.width == 400, path
        assert drawn.regions, path
    # Nothing is left unpacked beside the archives.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bundle.7z", "bundle.zip", "log.pdf.gz", "src"]
    with pytest.raises(Exception, match="no longer in"):
        render_page(PageRequest(member_label(str(tmp_path / "bundle.zip"), "gone.pdf"), 1,
                                None, "pdf", 400, 1 << 20), 50 * MB)
