"""Archives and compressed files through the real pipeline: each member is its own entry.

A zip, a tar.gz and gzip files hold documents of several formats. Each member is indexed as
`archive › member`, found by a keyword search with its own page numbers, and its text can be
shown; a nested archive and a zip bomb are refused with the reason. Changing, moving and
deleting an archive carries its members along.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from engine.core import Engine
from engine.extract.members import member_label
from tests.helpers.documents import write_docx, write_md, write_odt, write_pdf, write_txt

MB = 1024 * 1024


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _documents(work: Path) -> dict[str, bytes]:
    work.mkdir(exist_ok=True)
    write_txt(work / "notes.txt", "Buy rope and lamp oil for the lighthouse.")
    write_pdf(work / "log.pdf", "The keeper saw three schooners on Tuesday.")
    write_docx(work / "letter.docx", "We thank the keeper for forty years of service.")
    write_odt(work / "rota.odt", "The relief keeper arrives every second Thursday.")
    write_md(work / "guide.md", "Polish the lens before the evening watch begins.")
    return {name: (work / name).read_bytes() for name in
            ("notes.txt", "log.pdf", "letter.docx", "rota.odt", "guide.md")}


def build(root: Path, work: Path) -> None:
    docs = _documents(work)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as nested:
        nested.writestr("hidden.txt", "A quokka hides in an archive inside an archive.")
    _zip(root / "bundle.zip", {
        "notes.txt": docs["notes.txt"], "logs/log.pdf": docs["log.pdf"],
        "letter.docx": docs["letter.docx"], "old/inner.zip": inner.getvalue(),
    })
    with tarfile.open(root / "papers.tar.gz", "w:gz") as tar:
        for name in ("rota.odt", "guide.md"):
            info = tarfile.TarInfo(f"papers/{name}")
            info.size = len(docs[name])
            tar.addfile(info, io.BytesIO(docs[name]))
    (root / "NEWS.gz").write_bytes(gzip.compress(b"Version 3 adds a foghorn schedule.\n"))
    (root / "log.pdf.gz").write_bytes(gzip.compress(docs["log.pdf"]))
    with zipfile.ZipFile(root / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as bomb:
        with bomb.open("zeros.txt", "w", force_zip64=True) as out:
            for _ in range(300):
                out.write(b"\0" * MB)


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Path, Path, Engine]:
    root = tmp_path / "docs"
    root.mkdir()
    build(root, tmp_path / "work")
    engine = Engine(tmp_path / "data")
    engine.index([root], keyword_only=True)
    return root, tmp_path / "work", engine


def top(engine: Engine, query: str) -> tuple[str, int | None]:
    results = engine.search(query, mode="keyword").results
    assert results, query
    return results[0].best.path, results[0].best.page


def test_each_member_is_found_under_its_own_entry(indexed: tuple[Path, Path, Engine]) -> None:
    root, _, engine = indexed
    zip_, tar = str(root / "bundle.zip"), str(root / "papers.tar.gz")
    assert top(engine, "lamp oil rope") == (member_label(zip_, "notes.txt"), None)
    # The same PDF is in the zip and gzipped beside it: both, each on its page 2.
    response = engine.search("three schooners", mode="keyword")
    found = {(r.best.path, r.best.page) for r in response.results} | {
        (c.path, c.page) for r in response.results for c in r.also_in
    }
    assert {(member_label(zip_, "logs/log.pdf"), 2), (str(root / "log.pdf.gz"), 2)} <= found
    assert top(engine, "forty years service") == (member_label(zip_, "letter.docx"), None)
    assert top(engine, "relief keeper Thursday")[0] == member_label(tar, "papers/rota.odt")
    assert top(engine, "polish lens")[0] == member_label(tar, "papers/guide.md")
    assert top(engine, "foghorn schedule")[0] == str(root / "NEWS.gz")
    text = engine.store.file_text(member_label(zip_, "letter.docx")) or ""
    assert "forty years of service" in text  # the preview's text
    row = engine.store.file_by_path(member_label(zip_, "logs/log.pdf"))
    assert row is not None and row.kind == "pdf"


def test_nested_archives_and_bombs_are_refused_with_a_reason(
    indexed: tuple[Path, Path, Engine],
) -> None:
    root, _, engine = indexed
    problems = {path: (state, reason) for path, state, reason in engine.store.errors()}
    nested = problems[member_label(str(root / "bundle.zip"), "old/inner.zip")]
    assert nested == ("skipped", "an archive inside an archive is not opened")
    state, reason = problems[str(root / "bomb.zip")]
    assert state == "skipped" and "zip bomb" in reason
    assert engine.search("quokka", mode="keyword").results == []


def test_a_changed_archive_rereads_only_changed_members(
    indexed: tuple[Path, Path, Engine],
) -> None:
    root, work, engine = indexed
    zip_ = str(root / "bundle.zip")
    letter = engine.store.file_by_path(member_label(zip_, "letter.docx"))
    docs = _documents(work)
    _zip(root / "bundle.zip", {
        "notes.txt": b"Order new wicks for the lamp room.", "letter.docx": docs["letter.docx"],
    })
    summary = engine.index([root], keyword_only=True)
    assert summary.failed == []
    assert top(engine, "wicks lamp room")[0] == member_label(zip_, "notes.txt")
    assert engine.search("rope", mode="keyword").results == []
    assert engine.store.file_by_path(member_label(zip_, "logs/log.pdf")) is None  # taken out
    again = engine.store.file_by_path(member_label(zip_, "letter.docx"))
    assert again is not None and letter is not None and again.id == letter.id  # not re-read


def test_a_moved_or_deleted_archive_takes_its_members_along(
    indexed: tuple[Path, Path, Engine],
) -> None:
    root, _, engine = indexed
    (root / "bundle.zip").rename(root / "moved.zip")
    engine.index([root], keyword_only=True)
    assert top(engine, "forty years service")[0] == member_label(
        str(root / "moved.zip"), "letter.docx"
    )
    (root / "moved.zip").unlink()
    (root / "papers.tar.gz").unlink()
    engine.index([root], keyword_only=True)
    assert engine.search("forty years service", mode="keyword").results == []
    assert not [p for p, _, _ in engine.store.errors() if " › " in p]
    assert engine.store.conn.execute(
        "SELECT COUNT(*) FROM files WHERE instr(path, ' › ') > 0"
    ).fetchone()[0] == 0
