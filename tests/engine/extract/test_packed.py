"""Compressed documents (.gz, .bz2, .xz) and archives (zip, tar, tar.gz): read within caps."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from pathlib import Path

import pytest

from engine.extract import UnsupportedFile, extract_file
from engine.extract.members import ArchiveExtracted
from engine.extract.unpacking import MAX_INFLATED_BYTES
from tests.helpers.documents import write_docx, write_md, write_pdf, write_txt

MB = 1024 * 1024
SENTENCE = "The lighthouse keeper logged a northerly gale at dawn."


@pytest.mark.parametrize(("suffix", "compress"), [
    (".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress),
])
def test_one_compressed_document_is_read_as_its_own_type(
    tmp_path: Path, suffix: str, compress: object
) -> None:
    source = tmp_path / "manual.md"
    write_md(source, SENTENCE)
    packed = tmp_path / f"manual.md{suffix}"
    packed.write_bytes(compress(source.read_bytes()))  # type: ignore[operator]
    doc = extract_file(packed, 50 * MB)
    assert doc.kind == "markdown" and SENTENCE in doc.text
    assert [h.title for h in doc.headings] == ["Notes", "Details"]


def test_a_name_without_a_type_inside_is_read_as_text(tmp_path: Path) -> None:
    (tmp_path / "NEWS.gz").write_bytes(gzip.compress(b"Version 2.1 fixes the gale warning.\n"))
    assert "gale warning" in extract_file(tmp_path / "NEWS.gz", 50 * MB).text


def test_a_compressed_pdf_keeps_its_pages(tmp_path: Path) -> None:
    write_pdf(tmp_path / "report.pdf", SENTENCE)
    (tmp_path / "report.pdf.gz").write_bytes(gzip.compress((tmp_path / "report.pdf").read_bytes()))
    doc = extract_file(tmp_path / "report.pdf.gz", 50 * MB)
    assert doc.kind == "pdf" and doc.page_at(doc.text.index("lighthouse")) == 2


def test_a_gzip_bomb_is_refused_with_a_reason(tmp_path: Path) -> None:
    bomb = tmp_path / "huge.txt.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        block = b"\0" * MB
        for _ in range(MAX_INFLATED_BYTES // MB + 2):
            out.write(block)
    assert bomb.stat().st_size < 200_000
    with pytest.raises(UnsupportedFile, match="decompression bomb"):
        extract_file(bomb, 50 * MB)


def test_compressed_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt.gz.gz").write_bytes(gzip.compress(gzip.compress(b"hello")))
    with pytest.raises(UnsupportedFile, match="nested"):
        extract_file(tmp_path / "a.txt.gz.gz", 50 * MB)


def _members(folder: Path) -> dict[str, bytes]:
    write_txt(folder / "notes.txt", "Buy rope and lamp oil for the lighthouse.")
    write_pdf(folder / "log.pdf", "The keeper saw three ships on Tuesday.")
    write_docx(folder / "letter.docx", "We thank the keeper for forty years of service.")
    names = {"notes.txt": "notes.txt", "log.pdf": "logs/log.pdf", "letter.docx": "letter.docx"}
    return {inside: (folder / name).read_bytes() for name, inside in names.items()}


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _tar(path: Path, members: dict[str, bytes], mode: str) -> None:
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("name", ["bundle.zip", "bundle.tar", "bundle.tar.gz", "bundle.tgz"])
def test_each_member_of_an_archive_is_read_under_its_name(tmp_path: Path, name: str) -> None:
    work = tmp_path / "src"
    work.mkdir()
    members = _members(work)
    path = tmp_path / name
    if name.endswith(".zip"):
        _zip(path, members)
    else:
        _tar(path, members, "w" if name.endswith(".tar") else "w:gz")
    doc = extract_file(path, 50 * MB)
    assert isinstance(doc, ArchiveExtracted) and doc.kind == "archive"
    assert doc.text.split("\n") == ["letter.docx", "logs/log.pdf", "notes.txt"]  # the listing
    read = {m.name: m for m in doc.members}
    for sentence, member, kind in [("lamp oil", "notes.txt", "text"),
                                   ("three ships", "logs/log.pdf", "pdf"),
                                   ("forty years", "letter.docx", "docx")]:
        inner = read[member].doc
        assert inner is not None and sentence in inner.text and inner.kind == kind
        assert read[member].digest.startswith("member:")
    pdf = read["logs/log.pdf"].doc
    assert pdf is not None and pdf.page_at(pdf.text.index("three ships")) == 2


def test_an_archive_of_archives_is_refused_with_a_reason(tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    _zip(inner, {"a.txt": b"hello there, reader"})
    _zip(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes()})
    with pytest.raises(UnsupportedFile, match="archive inside an archive"):
        extract_file(tmp_path / "outer.zip", 50 * MB)
    _zip(tmp_path / "mixed.zip", {"inner.zip": inner.read_bytes(), "a.txt": b"hello reader"})
    doc = extract_file(tmp_path / "mixed.zip", 50 * MB)
    assert isinstance(doc, ArchiveExtracted)
    assert [(m.name, m.state, m.reason) for m in doc.members if m.doc is None] == [
        ("inner.zip", "skipped", "an archive inside an archive is not opened")
    ]


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.txt", "w", force_zip64=True) as out:
            for _ in range(300):
                out.write(b"\0" * MB)
    with pytest.raises(UnsupportedFile, match="zip bomb"):
        extract_file(bomb, 50 * MB)


def test_open_unpacks_one_member_into_a_private_folder(tmp_path: Path) -> None:
    from engine.extract.members import member_label, unpack_member_to
    from engine.extract.unpacking import private_folder

    work = tmp_path / "src"
    work.mkdir()
    members = _members(work)
    _tar(tmp_path / "bundle.tar.gz", members, "w:gz")
    with private_folder() as folder:
        opened = unpack_member_to(member_label(str(tmp_path / "bundle.tar.gz"), "logs/log.pdf"),
                                  folder)
        assert opened.parent == folder and opened.read_bytes() == members["logs/log.pdf"]
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert not folder.exists()
