"""Real files of every format go in; keyword search finds each planted sentence in place."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from engine.core import Engine
from engine.extract import extract_file
from tests.helpers.documents import BUILDERS, write_txt

pytestmark = pytest.mark.model  # the real packaged tokenizer cuts the passages

WORDS = ["zebrafish", "quartermaster", "lantern", "obsidian", "marmalade", "tangerine",
         "xylophone", "pelican", "saffron", "quasar", "walrus"]


def planted(suffix: str) -> str:
    word = WORDS[list(BUILDERS).index(suffix)]
    return f"The {word} committee approved seventeen violet proposals on Tuesday."


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            path = Path(dirpath) / name
            st = path.lstat()
            digest.update(f"{path.relative_to(root)}|{st.st_mode}|{st.st_mtime_ns}".encode())
            if path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("docs")
    pages: dict[str, str] = {}
    for suffix, build in BUILDERS.items():
        page = build(root / f"sample{suffix}", planted(suffix))
        pages[suffix] = str(page)
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (root / "blob.bin").write_bytes(bytes(range(256)) * 10)
    before = tree_digest(root)
    engine = Engine(tmp_path_factory.mktemp("data"))
    summary = engine.index([root], keyword_only=True)
    assert tree_digest(root) == before, "indexing wrote inside the pinned folder"
    engine.summary = summary  # type: ignore[attr-defined]
    return engine, root, pages


@pytest.mark.parametrize("suffix", list(BUILDERS))
def test_planted_sentence_found_in_right_file_at_right_offsets(
    indexed: tuple[Engine, Path, dict[str, str]], suffix: str
) -> None:
    engine, root, pages = indexed
    sentence = planted(suffix)
    word = sentence.split()[1]
    response = engine.search(word, mode="keyword", k=5)
    assert response.results, f"nothing found for {word!r}"
    hit = response.results[0].best
    assert Path(hit.path) == root / f"sample{suffix}"
    text = extract_file(Path(hit.path), 50 * 2**20).text
    assert " ".join(sentence.split()) in " ".join(text[hit.start : hit.end].split())
    assert text[hit.start : hit.end] == hit.text
    expected_page = None if pages[suffix] == "None" else int(pages[suffix])
    assert hit.page == expected_page


def test_failures_are_recorded_and_the_batch_goes_on(
    indexed: tuple[Engine, Path, dict[str, str]],
) -> None:
    engine, root, _ = indexed
    summary = engine.summary  # type: ignore[attr-defined]
    assert summary.indexed == len(BUILDERS)
    failed = dict(summary.failed)
    assert list(failed) == [str(root / "broken.pdf")]
    assert "pdf" in failed[str(root / "broken.pdf")].lower()
    assert [p for p, _ in summary.skipped] == [str(root / "blob.bin")]
    status = engine.status()
    assert (status["indexed"], status["failed"], status["skipped"]) == (len(BUILDERS), 1, 1)
    errors = {path: reason for path, _, reason in engine.store.errors()}
    assert errors[str(root / "broken.pdf")]


def test_reindex_is_incremental(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    write_txt(root / "a.txt", "Alpha centauri is the nearest star system.")
    write_txt(root / "b.txt", "Betelgeuse is a red supergiant.")
    engine = Engine(tmp_path / "data")
    assert engine.index([root], keyword_only=True).indexed == 2
    again = engine.index([root], keyword_only=True)
    assert (again.indexed, again.unchanged) == (0, 2)

    write_txt(root / "a.txt", "Andromeda is a spiral galaxy.")
    (root / "b.txt").unlink()
    changed = engine.index([root], keyword_only=True)
    assert (changed.indexed, changed.removed) == (1, 1)
    assert engine.search("centauri", mode="keyword").results == []
    assert engine.search("betelgeuse", mode="keyword").results == []
    assert engine.search("andromeda", mode="keyword").results[0].best.path == str(root / "a.txt")

    os.utime(root / "a.txt", (1, 1))  # touched, same content: no re-extraction
    touched = engine.index([root], keyword_only=True)
    assert (touched.indexed, touched.unchanged) == (0, 1)
    engine.close()


def test_filters_narrow_without_losing_matches(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    write_txt(root / "a.txt", "Comet tails point away from the sun.")
    write_txt(root / "sub" / "b.md", "Comet nuclei are dirty snowballs.")
    engine = Engine(tmp_path / "data")
    engine.index([root], keyword_only=True)
    from engine.search.searcher import SearchFilters

    def paths(filters: SearchFilters) -> set[str]:
        return {r.best.path for r in engine.search("comet", "keyword", 10, filters).results}

    assert paths(SearchFilters()) == {str(root / "a.txt"), str(root / "sub" / "b.md")}
    assert paths(SearchFilters(suffixes=("md",))) == {str(root / "sub" / "b.md")}
    assert paths(SearchFilters(folders=(str(root / "sub"),))) == {str(root / "sub" / "b.md")}
    os.utime(root / "a.txt", (1_000_000, 1_000_000))
    engine.index([root], keyword_only=True)
    assert paths(SearchFilters(modified_before=2_000_000)) == {str(root / "a.txt")}
    assert paths(SearchFilters(modified_after=2_000_000)) == {str(root / "sub" / "b.md")}


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".md"])
def test_text_rebuilt_from_passages_matches_extraction(
    indexed: tuple[Engine, Path, dict[str, str]], suffix: str
) -> None:
    engine, root, _ = indexed
    path = root / f"sample{suffix}"
    rebuilt = engine.store.file_text(str(path))
    assert rebuilt is not None
    text = extract_file(path, 50 * 2**20).text
    # Same length and same characters wherever a passage reaches; gaps are blank.
    assert len(rebuilt) == len(text.rstrip()) or len(rebuilt) == len(text)
    assert all(a == b or (a == " " and b.isspace()) for a, b in zip(rebuilt, text, strict=False))
    assert engine.store.file_text(str(root / "nothing-here.txt")) is None


def test_a_new_passage_size_chunks_every_file_again(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    write_txt(root / "long.txt", "The comet's tail points away from the sun. " * 60)
    engine = Engine(tmp_path / "data")
    engine.index([root], keyword_only=True)
    assert engine.index([root], keyword_only=True).unchanged == 1
    before = engine.store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    engine.close()

    (tmp_path / "data" / "config.toml").write_text("[chunk]\nmax_tokens = 48\n")
    smaller = Engine(tmp_path / "data")
    assert smaller.index([root], keyword_only=True).indexed == 1
    texts = [r[0] for r in smaller.store.conn.execute("SELECT text FROM chunks")]
    assert len(texts) > before
    assert max(smaller.tokenizer.count(t) for t in texts) <= 48
    assert smaller.index([root], keyword_only=True).unchanged == 1  # and only once
    assert smaller.search("comet tail", mode="keyword").results


def test_an_index_without_recorded_sizes_is_chunked_again(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    write_txt(root / "long.txt", "The comet's tail points away from the sun. " * 60)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "config.toml").write_text("[chunk]\nmax_tokens = 256\n")
    old = Engine(tmp_path / "data")  # as an index made before sizes were recorded
    old.index([root], keyword_only=True)
    with old.store.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key = 'passage_sizes'")
    before = old.store.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    old.close()

    (tmp_path / "data" / "config.toml").unlink()  # today's default: 128 word pieces
    now = Engine(tmp_path / "data")
    assert now.index([root], keyword_only=True).indexed == 1
    texts = [r[0] for r in now.store.conn.execute("SELECT text FROM chunks")]
    assert len(texts) > before and max(now.tokenizer.count(t) for t in texts) <= 128
    assert now.index([root], keyword_only=True).unchanged == 1


def test_a_folder_is_read_largest_file_first(tmp_path: Path) -> None:
    """So the extraction children finish together: the last file is a small one."""
    from engine.ingest.indexer import Indexer

    root = tmp_path / "docs"
    root.mkdir()
    for name, words in (("a-small.txt", 5), ("b-large.txt", 400), ("c-middle.txt", 60)):
        write_txt(root / name, " ".join(["lantern keepers trim wicks."] * words))
    engine = Engine(tmp_path / "data")
    order: list[str] = []
    try:
        Indexer(engine.store, engine.config, engine.tokenizer, None,
                on_file=lambda outcome: order.append(Path(outcome.path).name)).index_folders([root])
    finally:
        engine.close()
    assert order == ["b-large.txt", "c-middle.txt", "a-small.txt"]
