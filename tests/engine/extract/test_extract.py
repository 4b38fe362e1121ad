"""extract_file on plain text, source code and files it must refuse, built in tmp_path."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.extract import (
    Extracted,
    ExtractError,
    UnsupportedFile,
    base,
    extract_file,
    supported_suffixes,
)
from engine.extract.base import TextBuilder, clean_text
from engine.extract.text import markdown_headings

MB = 1024 * 1024
LIMIT = 50 * MB


def extract(path: Path) -> Extracted:
    return extract_file(path, LIMIT)


def check_offsets(result: Extracted) -> None:
    """The invariants every later stage relies on."""
    starts = result.page_starts
    if starts:
        assert starts[0] == 0
        assert all(a < b for a, b in zip(starts, starts[1:], strict=False))
        assert starts[-1] <= len(result.text)
    heading_starts = [h.start for h in result.headings]
    assert heading_starts == sorted(heading_starts)
    assert all(0 <= s < len(result.text) for s in heading_starts)
    assert "\n\n\n" not in result.text
    assert not any(line != line.rstrip() for line in result.text.split("\n"))


def assert_heading(result: Extracted, level: int, title: str) -> None:
    """A heading with this level and title exists and its offset points at its own text."""
    matches = [h for h in result.headings if h.title == title]
    assert matches, f"no heading {title!r} in {result.headings}"
    heading = matches[0]
    assert heading.level == level
    assert title in result.text[heading.start : heading.start + len(title) + 10]


def test_utf8_text_is_cleaned_without_losing_words(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"first line   \r\nsecond line\rthird\n\n\n\n\nafter the gap\t \n")
    result = extract(path)
    assert result.text == "first line\nsecond line\nthird\n\nafter the gap"
    assert result.kind == "text"
    assert result.page_starts == () and result.headings == ()
    assert result.page_at(3) is None


SENTENCES = {
    "cp1252": "Le café crème et la brûlée — naïve façade à Zürich, s'il vous plaît.",
    # charset_normalizer ties cp1250 with cp1252 on this one and picks cp1250 ("crčme").
    "windows-1252": "Café crème brûlée — a naïve façade. The quick brown fox jumps over "
    "the lazy dog. Ökonomie, Straße, Zürich.",
    "latin-1": "Où est la bibliothèque? Le garçon a mangé une pomme à la fête de Noël.",
    "utf-16": "Grüße aus Köln: 東京 and ελληνικά in one UTF-16 file.",
    "utf-16-be": "\ufeffBig-endian UTF-16 with a mark: naïve señor.",
    "utf-32": "UTF-32 with a mark: smørrebrød på Nørrebro.",
    "utf-8-sig": "UTF-8 with a byte-order mark: déjà vu.",
    "shift_jis": "東京は日本の首都です。今日はとても良い天気ですね。私は毎朝コーヒーを飲みます。",
}


@pytest.mark.parametrize("encoding", sorted(SENTENCES))
def test_common_encodings_decode_to_the_right_words(tmp_path: Path, encoding: str) -> None:
    sentence = SENTENCES[encoding]
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(f"{sentence}\n{sentence}\n".encode(encoding))
    result = extract(path)
    assert result.text == f"{sentence}\n{sentence}".lstrip("\ufeff")


def test_markdown_atx_and_setext_headings(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        "---\ntitle: front matter\n---\n"
        "# Getting started\n\nInstall the otter package first.\n\n"
        "Configuration\n=============\n\nSome settings.\n\n"
        "Advanced use ##\n-------------\n\n"
        "```python\n# not a heading inside a fence\n```\n\n"
        "- a list item\n---\n\n"
        "### Deep   dive ###\n\nThe walrus sleeps here.\n",
        encoding="utf-8",
    )
    result = extract(path)
    check_offsets(result)
    assert result.kind == "markdown"
    assert [(h.level, h.title) for h in result.headings] == [
        (1, "Getting started"),
        (1, "Configuration"),
        (2, "Advanced use ##"),
        (3, "Deep   dive"),
    ]
    for heading in result.headings:
        assert result.text[heading.start :].lstrip("# ").startswith(heading.title)
    assert result.heading_at(result.text.index("walrus")) == "Deep   dive"
    assert result.heading_at(result.text.index("otter")) == "Getting started"


def test_rst_headings_take_levels_from_first_use(tmp_path: Path) -> None:
    path = tmp_path / "manual.rst"
    path.write_text(
        "=========\nThe Title\n=========\n\nIntro text.\n\n"
        "Chapter One\n===========\n\nThe heron fishes.\n\n"
        "Section A\n---------\n\nMore.\n\n"
        "Chapter Two\n===========\n\n----\n\nA transition above is no heading.\n",
        encoding="utf-8",
    )
    result = extract(path)
    check_offsets(result)
    assert [(h.level, h.title) for h in result.headings] == [
        (1, "The Title"),
        (2, "Chapter One"),
        (3, "Section A"),
        (2, "Chapter Two"),
    ]
    assert result.text[result.headings[0].start :].startswith("=========\nThe Title")
    assert result.heading_at(result.text.index("heron")) == "Chapter One"


@pytest.mark.parametrize(
    ("name", "source", "titles"),
    [
        (
            "tool.py",
            "import os\n\nclass Parser:\n    def method(self):\n        pass\n\n"
            "async def fetch_all():\n    pass\n\ndef main() -> None:\n    pass\n",
            ["class Parser", "async def fetch_all", "def main"],
        ),
        (
            "app.ts",
            "export default class Shell {}\nexport async function boot() {}\n"
            "interface Options {}\nconst x = 1;\n",
            ["class Shell", "async function boot", "interface Options"],
        ),
        (
            "server.go",
            "package main\n\ntype Server struct {}\n\n"
            "func (s *Server) Run() {}\n\nfunc main() {}\n",
            ["type Server struct", "func (s *Server) Run", "func main"],
        ),
        ("lib.rs", "pub struct Index;\nimpl Index {}\npub(crate) fn build() {}\n", None),
        (
            "schema.sql",
            "CREATE TABLE files (id INTEGER);\ncreate or replace view recent as select 1;\n",
            ["CREATE TABLE files", "create or replace view recent"],
        ),
        ("settings.toml", "[model]\nname = 'x'\n\n[[folders]]\npath = '/'\n", ["model", "folders"]),
        ("main.c", "#include <stdio.h>\n\nstatic int add(int a, int b) {\n}\nint x;\n", None),
    ],
)
def test_code_headings(tmp_path: Path, name: str, source: str, titles: list[str] | None) -> None:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    result = extract(path)
    check_offsets(result)
    assert result.kind == "code"
    assert result.text == source.strip("\n")
    found = [h.title for h in result.headings]
    if titles is not None:
        assert found == titles
    else:
        assert found  # at least the obvious definitions
    for heading in result.headings:
        assert heading.start == 0 or result.text[heading.start - 1] == "\n"
        assert heading.title in result.text[heading.start :].split("\n", 1)[0]


def test_latex_sections(tmp_path: Path) -> None:
    path = tmp_path / "paper.tex"
    path.write_text(
        "\\documentclass{article}\n\\section{Method}\nWe measure.\n"
        "\\subsection*{Data}\nThe lemur dataset.\n",
        encoding="utf-8",
    )
    result = extract(path)
    assert [(h.level, h.title) for h in result.headings] == [(2, "Method"), (3, "Data")]
    assert result.heading_at(result.text.index("lemur")) == "Data"


@pytest.mark.parametrize("name", ["README", "Makefile", "LICENSE", "notes.weird"])
def test_unknown_names_that_hold_text_are_read_as_text(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("The narwhal manual.\nSee the instructions below.\n", encoding="utf-8")
    result = extract(path)
    assert result.text == "The narwhal manual.\nSee the instructions below."
    assert result.kind == "text"


BINARY = bytes(range(256)) * 64


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("blob.xyz", "unsupported file type .xyz"),
        ("song.mp3", "unsupported file type .mp3"),  # images are read by OCR now
        ("noext", "binary file"),
        ("fake.txt", "binary file"),
        ("fake.py", "binary file"),
    ],
)
def test_binary_files_are_skipped_with_a_reason(tmp_path: Path, name: str, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(BINARY)
    with pytest.raises(UnsupportedFile) as raised:
        extract(path)
    assert str(raised.value) == reason


def test_control_character_noise_without_nul_is_binary(tmp_path: Path) -> None:
    path = tmp_path / "noise.log"
    path.write_bytes(bytes(b for b in range(1, 32) if b not in (9, 10, 12, 13)) * 300)
    with pytest.raises(UnsupportedFile, match="binary file"):
        extract(path)


def test_too_large_file_is_skipped_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_bytes(b"a" * (3 * MB // 2))
    with pytest.raises(UnsupportedFile) as raised:
        extract_file(path, 1 * MB)
    assert str(raised.value) == "file too large: 1.5 MB > 1 MB limit"
    assert extract_file(path, 2 * MB).text.startswith("aaa")


def test_missing_file_is_an_extract_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="cannot read file"):
        extract(tmp_path / "gone.txt")


def test_a_bug_in_an_extractor_is_logged_and_becomes_an_extract_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(path: Path) -> Extracted:
        raise AttributeError("'NoneType' object has no attribute 'text'")

    monkeypatch.setitem(base._BY_SUFFIX, ".boom", broken)
    path = tmp_path / "file.boom"
    path.write_text("anything", encoding="utf-8")
    with pytest.raises(ExtractError) as raised:
        extract(path)
    assert type(raised.value) is ExtractError
    assert str(raised.value) == "could not read file: 'NoneType' object has no attribute 'text'"
    assert "unexpected error extracting" in caplog.text
    assert caplog.records[-1].exc_info is not None


def test_supported_suffixes_cover_every_family() -> None:
    suffixes = supported_suffixes()
    expected = {".txt", ".md", ".rst", ".py", ".html", ".pdf", ".docx", ".pptx", ".odt"}
    assert expected | {".epub", ".eml"} <= suffixes
    assert all(s.startswith(".") and s == s.lower() for s in suffixes)


@given(st.text(alphabet=string.ascii_letters + string.digits + " \t\r\n\v\f\x00\x07é東"))
def test_clean_text_keeps_every_word(raw: str) -> None:
    cleaned = clean_text(raw)
    words = raw.replace("\x00", " ").replace("\x07", " ").split()
    assert cleaned.split() == words
    assert "\n\n\n" not in cleaned and "\r" not in cleaned


@given(st.lists(st.tuples(st.text(min_size=0, max_size=30), st.integers(0, 3)), max_size=12))
def test_text_builder_heading_offsets_point_at_their_blocks(blocks: list[tuple[str, int]]) -> None:
    builder = TextBuilder()
    for block, level in blocks:
        builder.add(block, heading_level=level)
    result = builder.build("test")
    check_offsets(result)
    for heading in result.headings:
        assert result.text[heading.start :].split()[: len(heading.title.split())] == (
            heading.title.split()
        )


@given(
    st.lists(
        st.one_of(
            st.builds(
                lambda n, t: "#" * n + " " + t,
                st.integers(1, 6),
                st.from_regex(r"[a-z]{1,8}", fullmatch=True),
            ),
            st.from_regex(r"[a-z ]{0,20}", fullmatch=True),
            st.sampled_from(["===", "---", "```", ""]),
        ),
        max_size=30,
    )
)
def test_markdown_heading_offsets_are_line_starts(lines: list[str]) -> None:
    text = "\n".join(lines)
    for heading in markdown_headings(text):
        assert heading.start == 0 or text[heading.start - 1] == "\n"
        assert (
            heading.title in text[heading.start : text.find("\n", heading.start) % (len(text) + 1)]
        )
