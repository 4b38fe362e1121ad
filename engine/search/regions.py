"""Where a passage's words sit on the picture of its page, so a preview can mark the match.

OCR stored each passage's word boxes with it (chunks.boxes, engine/extract/regions.py); this
reads them back for one page of one file, for the GetPage request (engine/serve): images and
scanned PDF pages alike. Nothing is read from the file or recomputed.
"""

from __future__ import annotations

from engine.extract.regions import Region, unpack
from engine.store import Store
from engine.store.paths import path_to_db


def ocr_regions(
    store: Store, path: str, page: int, start: int | None = None, end: int | None = None
) -> list[Region]:
    """The word boxes OCR read on `page` (1-based) of `path`, in text order.

    With `start` and `end` (a result's offsets), only the words inside that span: the
    region to highlight. Empty when the page was not read by OCR (it has a text layer).
    """
    rows = store.conn.execute(
        "SELECT c.start, c.boxes FROM chunks c JOIN files f ON f.id = c.file_id"
        " WHERE f.path = ? AND c.page IS ? AND c.boxes IS NOT NULL ORDER BY c.start",
        (path_to_db(path), page),
    )
    words: dict[tuple[int, int], Region] = {}  # passages overlap: each word once
    for chunk_start, blob in rows:
        for region in unpack(bytes(blob), int(chunk_start)):
            if start is not None and region.end <= start:
                continue
            if end is not None and region.start >= end:
                continue
            words.setdefault((region.start, region.end), region)
    return [words[key] for key in sorted(words)]


def has_ocr_regions(store: Store, path: str, page: int) -> bool:
    """Whether OCR read `page` of `path`, so its picture, not a text layer, is what was found."""
    row = store.conn.execute(
        "SELECT 1 FROM chunks c JOIN files f ON f.id = c.file_id"
        " WHERE f.path = ? AND c.page IS ? AND c.boxes IS NOT NULL LIMIT 1",
        (path_to_db(path), page),
    ).fetchone()
    return row is not None
