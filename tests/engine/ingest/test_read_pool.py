"""Reading ahead: the extraction children read the files that come next, and the indexer
finds them read when their turn comes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import Config
from engine.embed.model_dir import resolve_model_dir
from engine.ingest.indexer import READ_AHEAD
from engine.ingest.read_pool import ReadPool

pytestmark = pytest.mark.model  # the children cut with the real tokenizer


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ReadPool, list[str]]]:
    """A real pool of two children; the names of the threads each read ran on."""
    reads: list[str] = []
    original = ReadPool._read

    def counted(self: ReadPool, source: Path) -> object:
        reads.append(threading.current_thread().name)
        return original(self, source)

    monkeypatch.setattr(ReadPool, "_read", counted)
    reader = ReadPool(Config(), resolve_model_dir(""), workers=2)
    yield reader, reads
    reader.close()


def _files(root: Path, n: int) -> list[Path]:
    root.mkdir()
    paths = []
    for i in range(n):
        path = root / f"note {i:02d}.txt"
        path.write_text(f"Note {i}: the keeper logged the lantern's hours.\n" * (20 + 30 * (i % 3)))
        paths.append(path)
    return paths


def test_files_read_ahead_are_found_read(tmp_path: Path, pool: tuple[ReadPool, list[str]]
                                         ) -> None:
    reader, reads = pool
    files = _files(tmp_path / "docs", 24)
    for i, path in enumerate(files):  # as the indexer goes: say what comes next, then read
        reader.prefetch(files[i + 1 : i + 1 + READ_AHEAD])
        doc = reader.read(path)
        assert doc.text.startswith(f"Note {i}:") and doc.cut
    on_this_thread = [name for name in reads if name == threading.current_thread().name]
    assert len(reads) == len(files)  # each file read once
    assert len(on_this_thread) <= 1  # only the first, before anything was ahead


def test_results_nobody_claims_give_up_their_place(tmp_path: Path,
                                                   pool: tuple[ReadPool, list[str]]) -> None:
    reader, reads = pool
    unclaimed = _files(tmp_path / "unchanged", 2 * READ_AHEAD)
    reader.prefetch(unclaimed)  # the indexer then finds them unchanged and never reads them
    files = _files(tmp_path / "docs", 12)
    for i, path in enumerate(files):
        reader.prefetch(files[i + 1 : i + 1 + READ_AHEAD])
        reader.read(path)
    on_this_thread = [name for name in reads if name == threading.current_thread().name]
    assert len(on_this_thread) <= 2
