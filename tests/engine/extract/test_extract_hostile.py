"""Extraction under hostile input: zip bombs, entity bombs, deep nesting, odd encodings, and
a child that runs out of memory."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import pytest

from engine.extract import ExtractError, UnsupportedFile, extract_file
from engine.extract.archive import MAX_XML_DEPTH, nesting_depth, parse_xml
from engine.extract.isolated import IsolatedExtractor
from engine.extract.text import decode_text
from tests.helpers.documents import write_docx
from tests.hostile.kinds import KINDS

MB = 1024 * 1024
LIMIT = 50 * MB


def _kind(name: str, root: Path) -> tuple[Path, str]:
    """Build one kind of the hostile suite; its path and its expected reason."""
    kind = next(k for k in KINDS if k.name == name)
    [(path, expect)] = kind.build(root, "xqkzz")
    return path, expect.reason


@pytest.mark.parametrize(
    "name", ["zip_bomb_docx", "zip_ratio_pptx", "billion_laughs_odt", "billion_laughs_epub",
             "deep_odt"],
)
def test_bombs_are_refused_quickly_with_a_reason(tmp_path: Path, name: str) -> None:
    path, reason = _kind(name, tmp_path)
    started = time.monotonic()
    with pytest.raises(UnsupportedFile, match=reason):
        extract_file(path, LIMIT)
    assert time.monotonic() - started < 2.0


def test_libxml2_refuses_entity_amplification_in_docx(tmp_path: Path) -> None:
    path, reason = _kind("billion_laughs_docx", tmp_path)
    with pytest.raises(ExtractError, match=reason):
        extract_file(path, LIMIT)


def test_deep_html_is_read_without_recursion(tmp_path: Path) -> None:
    path, _ = _kind("deep_html", tmp_path)
    assert "xqkzz" in extract_file(path, LIMIT).text


def test_nesting_depth_counts_without_recursion() -> None:
    depth = 100_000
    root = parse_xml(b"<a>" + b"<b>" * 10 + b"</b>" * 10 + b"</a>", "XML")
    assert nesting_depth(root) == 11
    deep = b"<a>" * depth + b"</a>" * depth
    with pytest.raises(UnsupportedFile, match=f"nests more than {MAX_XML_DEPTH}"):
        parse_xml(deep, "XML")


def test_a_document_that_unpacks_to_more_text_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "wordy.docx"
    write_docx(path, "lorem ipsum dolor " * 20_000)  # 360,000 characters in about 10 KB
    assert path.stat().st_size < 50_000
    with pytest.raises(UnsupportedFile, match="too much text"):
        extract_file(path, 100_000)
    assert len(extract_file(path, LIMIT).text) > 360_000


TEXTS = {
    "english": "The lighthouse keeper lit the lamp at dusk, as every night. " * 20,
    "russian": "Москва является столицей России и крупнейшим городом страны. " * 20,
    "japanese": "東京は日本の首都であり、世界最大の都市圏の一つです。" * 20,
    "korean": "서울은 대한민국의 수도이며 가장 큰 도시입니다. " * 20,
}


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("language", list(TEXTS))
def test_utf16_and_utf32_without_a_byte_order_mark(language: str, encoding: str) -> None:
    text = TEXTS[language]
    assert decode_text(text.encode(encoding)) == text


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1252", "Le café de la crème brûlée était très apprécié à Noël. " * 8),
        ("cp1250", "Příliš žluťoučký kůň úpěl ďábelské ódy v Praze. " * 8),
        ("cp1251", "Москва является столицей России и крупнейшим городом страны. " * 8),
        ("koi8_r", "Москва является столицей России и крупнейшим городом страны. " * 8),
        ("iso8859_7", "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας και μεγάλη πόλη. " * 8),
        ("shift_jis", "東京は日本の首都であり、世界最大の都市圏の一つです。" * 8),
        ("gbk", "北京是中华人民共和国的首都，也是全国的政治文化中心。" * 8),
    ],
)
def test_common_legacy_code_pages(encoding: str, text: str) -> None:
    assert decode_text(text.encode(encoding)) == text


@pytest.mark.parametrize(
    "data",
    [os.urandom(64 * 1024), bytes(MB), b"\x00\x01\x02\x03" * 4096,
     b"\x7fELF\x02\x01\x01" + os.urandom(32 * 1024)],
    ids=["random", "zeros", "pattern", "elf"],
)
def test_binary_is_never_taken_for_wide_text(data: bytes) -> None:
    with pytest.raises(UnsupportedFile, match="binary file"):
        decode_text(data)


def test_the_extraction_child_runs_under_a_memory_limit(tmp_path: Path) -> None:
    hungry = tmp_path / "hungry.txt"
    hungry.write_text("allocate 3072\n")
    plain = tmp_path / "plain.txt"
    plain.write_text("an ordinary file\n")
    with IsolatedExtractor(60.0, MB, target="tests.helpers.extract_targets:misbehave",
                           max_memory=1024 * MB) as isolated:
        with pytest.raises(ExtractError, match=r"needs more memory than the extractor's limit"):
            isolated.extract(hungry)
        assert "an ordinary file" in isolated.extract(plain).text  # a fresh child


def test_empty_files_are_empty_whatever_their_format(tmp_path: Path) -> None:
    for suffix in (".docx", ".pptx", ".odt", ".epub", ".pdf"):
        path = tmp_path / f"empty{suffix}"
        path.write_bytes(b"")
        with pytest.raises(UnsupportedFile, match="^empty file$"):
            extract_file(path, LIMIT)
    (tmp_path / "empty.txt").write_bytes(b"")
    assert extract_file(tmp_path / "empty.txt", LIMIT).text == ""


def test_a_zip_that_lies_about_nothing_still_opens(tmp_path: Path) -> None:
    path = tmp_path / "fine.docx"
    write_docx(path, "An ordinary sentence in an ordinary document.")
    with zipfile.ZipFile(path) as archive:
        assert all(m.file_size < MB for m in archive.infolist())
    assert "ordinary sentence" in extract_file(path, LIMIT).text
