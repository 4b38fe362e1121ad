"""files_fts, the whole-text BM25 index of each file, follows its passages through every change."""

from __future__ import annotations

import re
from pathlib import Path

from engine.store import ChunkRow, Store
from engine.store.keyword import document_search


def record(store: Store, folder: int, path: str, text: str, words: int = 4) -> None:
    """Passages of `words` words, each sharing its first word with the one before, cut at
    word ends as the chunker cuts them."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    chunks, first, ordinal = [], 0, 0
    while True:
        last = min(first + words, len(spans)) - 1
        start, end = spans[first][0], spans[last][1]
        chunks.append(ChunkRow(ordinal, start, end, None, None, text[start:end]))
        if last == len(spans) - 1:
            break
        first, ordinal = last, ordinal + 1  # the last word of this passage starts the next
    store.record_file(folder_id=folder, path=path, size=1, mtime=1.0, hash="h", kind="text",
                      state="indexed", chunks=chunks)


def found(store: Store, words: str) -> dict[int, float]:
    return {h.chunk_id: h.score for h in document_search(store.conn, words, 100)}


def rows(store: Store) -> int:
    return int(store.conn.execute("SELECT COUNT(*) FROM files_fts_docsize").fetchone()[0])


def test_each_word_counts_once_despite_the_overlap(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    record(store, folder, "/docs/once.txt", "lighthouse keepers " * 6, words=3)
    record(store, folder, "/docs/whole.txt", "lighthouse keepers " * 6, words=1000)
    for i in range(4):
        record(store, folder, f"/docs/other{i}.txt", "river boats and ferries")
    scores = found(store, "lighthouse")
    once = store.file_by_path("/docs/once.txt").id  # type: ignore[union-attr]
    whole = store.file_by_path("/docs/whole.txt").id  # type: ignore[union-attr]
    assert scores[once] > 0.1
    assert abs(scores[once] - scores[whole]) < 1e-9  # cut in passages or not, the same text


def test_follows_reindex_delete_and_unpin(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    record(store, folder, "/docs/a.txt", "the lighthouse keeper rowed across the bay at dawn")
    record(store, folder, "/docs/b.txt", "ferries cross the river every hour in summer")
    a = store.file_by_path("/docs/a.txt").id  # type: ignore[union-attr]
    assert set(found(store, "lighthouse")) == {a} and rows(store) == 2
    record(store, folder, "/docs/a.txt", "the keeper painted the tower red and white")
    assert found(store, "lighthouse") == {} and set(found(store, "painted")) == {a}
    assert rows(store) == 2
    store.record_file(folder_id=folder, path="/docs/a.txt", size=1, mtime=2.0, hash=None,
                      kind=None, state="failed", error="corrupt")  # its passages go
    assert found(store, "painted") == {} and rows(store) == 1
    store.delete_files([store.file_by_path("/docs/b.txt").id])  # type: ignore[union-attr]
    assert found(store, "ferries") == {} and rows(store) == 0
    record(store, folder, "/docs/c.txt", "gulls nest on the cliffs")
    store.unpin_folder("/docs")
    assert found(store, "gulls") == {} and rows(store) == 0
    store.conn.execute("INSERT INTO files_fts(files_fts) VALUES ('integrity-check')")
