"""The OCR stage's decisions: what goes to OCR, what waits behind text, what is off."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from engine.config import Config, OcrConfig
from engine.ingest.indexer import Indexer
from engine.ingest.ocr_stage import OcrStage, ocr_status
from engine.ingest.walk import FolderWalker
from engine.store import Store, ocr_pending
from engine.store.queue import PRIORITY_OCR, PRIORITY_SCAN, enqueue, next_batch
from tests.helpers.documents import write_pdf
from tests.helpers.scans import image_pdf, photo


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    photo((120, 80)).save(root / "scan.png")
    (root / "copier.pdf").write_bytes(image_pdf([photo((100, 140))]))
    write_pdf(root / "typed.pdf", "The minutes were typed, not scanned, last week.")
    return root


def test_with_ocr_off_images_are_skipped_with_the_reason(
    tmp_path: Path, passage_tokenizer: object
) -> None:
    root = _folder(tmp_path)
    config = dataclasses.replace(Config(), ocr=OcrConfig(enabled=False))
    store = Store.open_in(tmp_path)
    with OcrStage(lambda: store, config, None) as stage:
        summary = Indexer(store, config, passage_tokenizer, extract=stage.extract).index_folders(
            [root]
        )
        assert ocr_status(store, stage)["state"] == "off"
    skipped = dict(summary.skipped)
    assert skipped[str(root / "scan.png")].startswith("image not read: OCR is turned off")
    assert summary.indexed == 2  # both PDFs: the scanned one keeps what text it has (none)
    assert ocr_pending.backlog(store.conn).files == 0
    store.close()


def test_a_file_met_at_a_text_priority_waits_behind_text(
    tmp_path: Path, passage_tokenizer: object
) -> None:
    root = _folder(tmp_path)
    config = Config()
    store = Store.open_in(tmp_path)
    folder = store.pin_folder(str(root))
    with store.transaction() as conn:
        enqueue(conn, [(str(root / n), folder, 1, 1.0) for n in ("scan.png", "copier.pdf",
                                                                 "typed.pdf")], PRIORITY_SCAN)
    with OcrStage(lambda: store, config, None) as stage:
        indexer = Indexer(store, config, passage_tokenizer, extract=stage.extract)
        indexer.index_queued(next_batch(store.conn, 10), {folder: FolderWalker(root,
                                                                               config.walk)})
        assert stage.pages_read == 0  # nothing was read by OCR yet
        assert set(ocr_pending.pending_paths(store.conn)) == {
            str(root / "scan.png"), str(root / "copier.pdf")
        }
        assert stage.requeue() == 2
        assert {q.priority for q in next_batch(store.conn, 10)} == {PRIORITY_OCR}
        line = ocr_status(store, stage)
        assert line["pages_total"] == 2 and line["line"] == "reading scanned pages: 0 of 2"
    store.close()
