"""Generated files are skipped with a reason; prose written one paragraph per line is not."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from engine.config import Config, WalkConfig
from engine.core import Engine
from engine.extract import UnsupportedFile, extract_file
from engine.ingest.generated import generated_name, generated_text, screened

WORDS = (
    "the river rose after three days of rain and the farmers moved their sheep to the high "
    "fields while the village council met in the old school to decide who would repair the "
    "bridge before the market opened again in spring"
).split()


def prose_paragraph(rng: random.Random, words: int = 400) -> str:
    """A long paragraph of ordinary words on one line, as Markdown writers often keep it."""
    sentences = []
    while sum(len(s.split()) for s in sentences) < words:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20)))
        sentences.append(sentence.capitalize() + rng.choice([".", ".", ",", ";", "?"]))
    return " ".join(sentences)


def minified_bundle(rng: random.Random) -> str:
    """What a bundler writes: one line of code with short names and no spaces to spare."""
    parts = ['!function(e,t){"object"==typeof exports&&"undefined"!=typeof module?'
             'module.exports=t():"function"==typeof define&&define.amd?define(t):'
             '(e=e||self).Lib=t()}(this,function(){"use strict";']
    for i in range(400):
        a, b = rng.choice("abcdefghijklmn"), rng.choice("opqrstuvwxyz")
        parts.append(f"var {a}{i}=function({a},{b}){{return {a}&&{b}?{a}.map(function(n)"
                     f"{{return n*{i}+{b}.length}}):[]}};")
    return "".join(parts) + "return{version:\"1.0.0\"}});\n//# sourceMappingURL=lib.min.js.map\n"


def sphinx_searchindex(rng: random.Random) -> str:
    """Sphinx's searchindex.js: document names, then every term with the documents it is in."""
    docnames = [f"library/{w}{i}" for i, w in enumerate(WORDS)]
    terms = {f"{w}{i}": [rng.randrange(len(docnames)) for _ in range(rng.randint(1, 12))]
             for i, w in enumerate(WORDS * 20)}
    index = {"docnames": docnames, "filenames": [d + ".rst" for d in docnames],
             "titles": [d.split("/")[1].title() for d in docnames], "terms": terms,
             "objects": {"": [[0, 1, 2, "-", "str"]] * 50}, "envversion": {"sphinx": 56}}
    return "Search.setIndex(" + json.dumps(index) + ")"


@pytest.fixture()
def rng() -> random.Random:
    return random.Random(17)


def test_minified_bundle_and_searchindex_are_recognised_by_their_text(rng: random.Random) -> None:
    assert generated_text(minified_bundle(rng)) is not None
    assert generated_text(sphinx_searchindex(rng)) is not None
    source_map = json.dumps({"version": 3, "sources": ["src/lib.js"],
                             "mappings": "AAAA,SAASA,EAAEC;" * 500})
    assert generated_text(source_map) is not None


def test_prose_with_long_lines_is_not_caught(rng: random.Random) -> None:
    notes = "\n\n".join(prose_paragraph(rng) for _ in range(6))
    assert min(len(line) for line in notes.split("\n") if line) > 1000
    assert generated_text(notes) is None
    contents = "Contents " + " . " * 400 + " 12 Introduction " + " . " * 400 + " 14"
    assert generated_text(contents) is None  # a dotted table of contents is not data
    assert generated_text('{"name": "my-notes", "tags": ["garden", "river"]}\n') is None


@pytest.mark.parametrize("name", [
    "package-lock.json", "yarn.lock", "poetry.lock", "Cargo.lock", "go.sum", "app.min.js",
    "style.min.css", "main.3f2a.bundle.js", "app.js.map", "searchindex.js", "search_index.json",
])
def test_machine_file_names(name: str) -> None:
    assert generated_name(Path(name)) is not None


@pytest.mark.parametrize("name", ["notes.md", "lock-in.txt", "index.js", "map.txt", "mining.js"])
def test_ordinary_file_names(name: str) -> None:
    assert generated_name(Path(name)) is None


def test_indexing_skips_generated_files_with_a_reason(
    tmp_path: Path, rng: random.Random
) -> None:
    folder = tmp_path / "docs"
    (folder / "_static").mkdir(parents=True)
    (folder / "_static" / "vendor.js").write_text(minified_bundle(rng))  # caught by its text
    (folder / "searchindex.js").write_text(sphinx_searchindex(rng))
    (folder / "package-lock.json").write_text(json.dumps(
        {"name": "site", "lockfileVersion": 3, "packages": {"": {"name": "site"}}}, indent=2))
    (folder / "river.md").write_text("# River\n\n" + prose_paragraph(rng, 600) + "\n")
    engine = Engine(tmp_path / "data", Config())
    try:
        summary = engine.index([folder], keyword_only=True)
        skipped = dict(summary.skipped)
        assert summary.indexed == 1, summary
        assert skipped[str(folder / "package-lock.json")] == "generated file: lock file"
        assert skipped[str(folder / "searchindex.js")] == "generated file: search index"
        assert skipped[str(folder / "_static" / "vendor.js")].startswith(
            "generated file: minified or machine-written text")
        hits = engine.search("bridge council", mode="keyword").results
        assert [h.best.path for h in hits] == [str(folder / "river.md")]
    finally:
        engine.close()


def test_skip_generated_false_reads_them_as_text(tmp_path: Path, rng: random.Random) -> None:
    (tmp_path / "searchindex.js").write_text(sphinx_searchindex(rng))
    extract = screened(lambda p: extract_file(p, 1 << 30), WalkConfig(skip_generated=False))
    assert "docnames" in extract(tmp_path / "searchindex.js").text
    refusing = screened(lambda p: extract_file(p, 1 << 30), WalkConfig())
    with pytest.raises(UnsupportedFile, match="generated file: search index"):
        refusing(tmp_path / "searchindex.js")
