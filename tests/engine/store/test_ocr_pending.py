"""The OCR migration on a data dir from before it, and the list of files OCR has not finished."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from engine.store import ChunkRow, Store, ocr_pending
from engine.store.database import _split_sql
from engine.store.queue import PRIORITY_OCR, PRIORITY_SCAN, enqueue, next_batch
from engine.store.schema import MIGRATIONS


def test_an_old_data_dir_gains_word_boxes_and_the_ocr_list(tmp_path: Path) -> None:
    boxes_at = next(i for i, m in enumerate(MIGRATIONS) if "ADD COLUMN boxes" in m)
    conn = sqlite3.connect(tmp_path / "dowse.sqlite3")
    for number, script in enumerate(MIGRATIONS[:boxes_at], start=1):
        for statement in _split_sql(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    conn.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/docs', 0)")
    conn.execute("INSERT INTO files(id, folder_id, path, size, mtime, state)"
                 " VALUES (1, 1, '/docs/a.txt', 1, 1, 'indexed')")
    conn.execute("INSERT INTO chunks(file_id, ordinal, start, \"end\", text)"
                 " VALUES (1, 0, 0, 9, 'old words')")
    conn.commit()
    conn.close()

    store = Store.open_in(tmp_path)
    assert store.conn.execute("SELECT text, boxes FROM chunks").fetchall() == [("old words", None)]
    blob = b"\x00" * 16
    store.record_file(
        folder_id=1, path="/docs/scan.png", size=5, mtime=2.0, hash="h", kind="image",
        state="indexed", chunks=[ChunkRow(0, 0, 5, 1, None, "words", blob)],
    )
    assert store.conn.execute(
        "SELECT c.boxes FROM chunks c JOIN files f ON f.id = c.file_id"
        " WHERE f.path = '/docs/scan.png'"
    ).fetchone() == (blob,)
    assert ocr_pending.backlog(store.conn).files == 0
    store.close()


def test_pending_files_go_back_in_the_queue_behind_text(tmp_path: Path) -> None:
    store = Store.open_in(tmp_path)
    folder = store.pin_folder("/docs")
    for name in ("scan.pdf", "gone.pdf", "broken.pdf"):
        store.record_file(folder_id=folder, path=f"/docs/{name}", size=10, mtime=1.0,
                          hash="h", kind="pdf", state="indexed")
        ocr_pending.mark(store.conn, f"/docs/{name}", 3, 300)
    store.delete_files([store.file_by_path("/docs/gone.pdf").id])  # type: ignore[union-attr]
    store.record_file(folder_id=folder, path="/docs/broken.pdf", size=10, mtime=1.0,
                      hash=None, kind=None, state="failed", error="corrupt")
    with store.transaction() as conn:
        enqueue(conn, [("/docs/note.txt", folder, 10, 1.0)], PRIORITY_SCAN)
        assert ocr_pending.requeue(conn) == 1
    assert [(q.path, q.priority) for q in next_batch(store.conn, 10)] == [
        ("/docs/note.txt", PRIORITY_SCAN), ("/docs/scan.pdf", PRIORITY_OCR),
    ]
    row = store.file_by_path("/docs/scan.pdf")
    assert row is not None and row.hash is None and row.size == -1  # read again, not trusted
    assert ocr_pending.queued_priority(store.conn, "/docs/scan.pdf") == PRIORITY_OCR
    assert ocr_pending.backlog(store.conn) == ocr_pending.OcrBacklog(1, 3, 300)
    assert not ocr_pending.any_unqueued(store.conn)
    ocr_pending.clear(store.conn, "/docs/scan.pdf")
    assert ocr_pending.backlog(store.conn).files == 0
    store.close()
