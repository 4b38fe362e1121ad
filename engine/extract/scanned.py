"""The OCR pass: read the pages of an image or a scanned PDF that have no text layer.

It runs in its own extraction child (engine/ingest/ocr_stage.py starts it) and reads pages in
order until its time budget is spent. Each page read is appended to a cache file named by the
file's content hash, so a file that moved or was saved again is not read twice, and a run cut
short (its budget, a timeout, a crash) loses at most the page it was on: the next run starts
where this one stopped. What is read so far comes back as an OcrExtracted that says how many
pages are left.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.config import OcrConfig
from engine.extract.base import Extracted, ExtractError, UnsupportedFile, reading
from engine.extract.compressed import inflated, is_compressed
from engine.extract.images import IMAGE_SUFFIXES, frame_count
from engine.extract.ocr import (
    OcrUnavailableError,
    PageReader,
    PageText,
    WordBox,
    has_words,
    tesseract_version,
)
from engine.extract.pdf import _open, _page_text
from engine.extract.regions import OcrExtracted, Region

log = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
# A PDF page with fewer characters of text than this, and a picture on it, is read by OCR.
MIN_TEXT_CHARS = 32
# PDF pages are drawn at this resolution for OCR at most (and smaller for big pages).
RENDER_DPI = 300


@dataclass(frozen=True)
class OcrRequest:
    """What the OCR child is asked: read this file's picture pages within this many seconds."""

    path: Path
    config: OcrConfig
    cache_dir: Path | None  # None: no cache
    budget_seconds: float


def pages_needing_ocr(doc: Extracted) -> int:
    """Pages of a text extraction that OCR should look at: an image's pages, or a PDF's
    pages with next to no text (the OCR pass checks that they hold a picture)."""
    if isinstance(doc, OcrExtracted):
        return doc.ocr_pages
    if doc.kind != "pdf" or not doc.page_starts:
        return 0
    ends = [*doc.page_starts[1:], len(doc.text)]
    return sum(
        1 for a, b in zip(doc.page_starts, ends, strict=True)
        if len(doc.text[a:b].strip()) < MIN_TEXT_CHARS
    )


def read_scanned(request: OcrRequest, max_bytes: int) -> OcrExtracted:
    """The child's entry point (engine.extract.isolated): text and regions of every page."""
    if is_compressed(request.path):  # `scan.pdf.gz`: read the document inside
        with inflated(request.path) as inner:
            return read_scanned(replace(request, path=inner), max_bytes)
    path = request.path
    size = path.stat().st_size
    if size > max_bytes:
        raise UnsupportedFile(f"file too large: {size} bytes")
    cache = PageCache.open(request.cache_dir, path, request.config)
    reader = _LazyReader(request.config)
    deadline = time.monotonic() + request.budget_seconds
    if path.suffix.lower() in IMAGE_SUFFIXES:
        pages, kind = _image_pages(path, request.config, cache, reader, deadline), "image"
    else:
        pages, kind = _pdf_pages(path, cache, reader, deadline), "pdf"
    doc = _assemble(pages, kind, reader.fresh)
    if doc.ocr_complete and not doc.text.strip():
        raise UnsupportedFile("no text: OCR found no words" + (" in the image" * (kind == "image")))
    return doc


@dataclass
class _Page:
    text: str
    words: tuple[WordBox, ...] = ()
    ocr: bool = False  # a picture page: read by OCR, or waiting for it
    read: bool = True


class _LazyReader:
    """Checks for Tesseract only when a page really needs reading (not on a cache hit)."""

    def __init__(self, config: OcrConfig) -> None:
        self.config = config
        self._reader: PageReader | None = None
        self.fresh = 0  # pages read in this run, not from the cache

    def read(self, image: Any) -> PageText:
        if self._reader is None:
            try:
                self._reader = PageReader(self.config)
            except OcrUnavailableError as exc:
                raise UnsupportedFile(str(exc)) from exc
        self.fresh += 1
        return self._reader.read(image)


def _read_page(
    index: int, cache: PageCache, reader: _LazyReader, deadline: float, draw: Any
) -> _Page:
    cached = cache.get(index)
    if cached is not None:
        return _Page(cached.text, cached.words, ocr=True)
    # Every run reads at least one new page, so a file always gets further.
    if reader.fresh and time.monotonic() > deadline:
        return _Page("", ocr=True, read=False)
    page = reader.read(draw())
    if not has_words(page):
        page = PageText("")
    cache.put(index, page)
    return _Page(page.text, page.words, ocr=True)


def _image_pages(
    path: Path, config: OcrConfig, cache: PageCache, reader: _LazyReader, deadline: float
) -> list[_Page]:
    from PIL import Image

    with warnings.catch_warnings(), reading("image"):
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(path)
    with image:
        megapixels = image.size[0] * image.size[1] / 1e6
        if megapixels > config.max_image_megapixels:
            raise UnsupportedFile(
                f"image too large to read: {megapixels:.0f} megapixels > "
                f"{config.max_image_megapixels:g} ([ocr] max_image_megapixels)"
            )

        def frame(index: int) -> Any:
            with reading("image"):
                image.seek(index)
                image.draft("L", (4000, 4000))  # JPEG: decode at a reduced size, cheaply
                return image.copy()

        return [
            _read_page(i, cache, reader, deadline, lambda i=i: frame(i))
            for i in range(frame_count(image))
        ]


def _pdf_pages(path: Path, cache: PageCache, reader: _LazyReader, deadline: float) -> list[_Page]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    document = _open(path)
    try:
        pages = []
        for index in range(len(document)):
            text = _page_text(document, index)
            if len(text.strip()) >= MIN_TEXT_CHARS:
                pages.append(_Page(text))
                continue
            page = document[index]
            try:
                pictures = next(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)), None)
                if pictures is None:
                    pages.append(_Page(text))
                    continue

                def draw(page: Any = page) -> Any:
                    width, height = page.get_size()
                    scale = min(RENDER_DPI / 72, 3000 / max(width, height, 1.0))
                    return page.render(scale=scale, grayscale=True).to_pil()

                read = _read_page(index, cache, reader, deadline, draw)
                if not read.text.strip() and text.strip():
                    read = _Page(text, ocr=True, read=read.read)  # keep what the layer had
                pages.append(read)
            finally:
                page.close()
    except pdfium.PdfiumError as exc:
        raise ExtractError(f"corrupt PDF: {exc}") from exc
    finally:
        document.close()
    return pages


def _assemble(pages: list[_Page], kind: str, fresh: int) -> OcrExtracted:
    parts: list[str] = []
    starts: list[int] = []
    regions: list[Region] = []
    offset = 0
    for page in pages:
        if parts:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        starts.append(offset)
        regions.extend(
            Region(w.start + offset, w.end + offset, w.x0, w.y0, w.x1, w.y1) for w in page.words
        )
        parts.append(page.text)
        offset += len(page.text)
    ocr_pages = [p for p in pages if p.ocr]
    return OcrExtracted(
        "".join(parts), kind, tuple(starts), regions=tuple(regions),
        ocr_pages=len(ocr_pages), ocr_done=sum(p.read for p in ocr_pages), ocr_fresh=fresh,
    )


class PageCache:
    """OCR results of one file's pages, one JSON line per page, under its content hash."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.pages: dict[int, PageText] = {}
        if path is not None and path.exists():
            self._load(path)

    @classmethod
    def open(cls, cache_dir: Path | None, source: Path, config: OcrConfig) -> PageCache:
        if cache_dir is None:
            return cls(None)
        with source.open("rb") as handle:
            digest = hashlib.file_digest(handle, "blake2b").hexdigest()[:32]
        # What was read depends on the engine and the languages, so both are in the name.
        setup = f"{tesseract_version()}|{'+'.join(config.languages)}"
        key = hashlib.blake2b(setup.encode(), digest_size=4).hexdigest()
        return cls(cache_dir / "ocr" / digest[:2] / f"{digest}-{key}.jsonl")

    def _load(self, path: Path) -> None:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                    words = tuple(WordBox(*w) for w in row["words"])
                    self.pages[int(row["page"])] = PageText(str(row["text"]), words)
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill: that page is read again

    def get(self, index: int) -> PageText | None:
        return self.pages.get(index)

    def put(self, index: int, page: PageText) -> None:
        self.pages[index] = page
        if self.path is None:
            return
        row = {"page": index, "text": page.text, "words": [
            [w.start, w.end, round(w.x0, 5), round(w.y0, 5), round(w.x1, 5), round(w.y1, 5)]
            for w in page.words
        ]}
        with suppress(OSError), _private_append(self.path) as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


@contextmanager
def _private_append(path: Path) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        yield handle
