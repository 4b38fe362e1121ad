"""Draws one page of a PDF (or a picture) as a PNG, with the rectangles where a passage lies.

The engine runs this in a child process (engine/extract/isolated.py), as it does extraction:
a page that hangs or crashes pdfium takes only the child with it. The passage arrives as the
text Dowse indexed; its place on the page is found in the page's text as pdf.py extracts it,
mapped word by word to pdfium's characters (the cleaning in clean_text moves offsets), and
pdfium merges those characters' boxes into one rectangle per line. Pages that OCR read have
their word boxes in the store instead (engine/search/regions.py); then `passage` is None and
only the picture is drawn here.
"""

from __future__ import annotations

import base64
import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

from engine.extract.base import Extracted, ExtractError, clean_text
from engine.extract.compressed import inflated, is_compressed
from engine.extract.members import archive_of, unpack_member_to
from engine.extract.pdf import _open
from engine.extract.unpacking import private_folder

MIN_WIDTH, MAX_WIDTH = 64, 2400  # pixels
_SHRINK = 0.75  # each try that comes out too large draws the page this much smaller
_TRIES = 8
_WORD = re.compile(r"\S+")

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class PageRequest:
    path: str
    page: int  # 1-based
    passage: str | None  # the indexed text to mark, or None for the page alone
    kind: str  # "pdf", or "image" for a picture (a TIFF's frames are its pages)
    width: int  # pixels
    max_base64: int  # the PNG, in base64, must fit in this many bytes


@dataclass(frozen=True)
class RenderedPage(Extracted):
    """A drawn page; an Extracted (with no text) because it comes back the way extractions do,
    through the child's pipe (as OcrExtracted does)."""

    png: bytes = b""
    width: int = 0
    height: int = 0
    regions: tuple[Rect, ...] = ()  # x0, y0, x1, y1 as fractions of the image, top left first

    def base64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


def render_page(request: PageRequest, max_file_bytes: int) -> RenderedPage:
    """The page drawn about `request.width` pixels wide (smaller if it would not fit). A PDF
    inside an archive (`a.zip › b.pdf`) or compressed (`b.pdf.gz`) is unpacked first, within
    the caps that indexing keeps, into a private folder removed once it is drawn."""
    path = Path(request.path)
    if archive_of(request.path) is not None and not path.exists():
        with private_folder() as folder:
            return _render(unpack_member_to(request.path, folder), request, max_file_bytes)
    if is_compressed(path):
        with inflated(path) as inner:
            return _render(inner, request, max_file_bytes)
    return _render(path, request, max_file_bytes)


def _render(path: Path, request: PageRequest, max_file_bytes: int) -> RenderedPage:
    try:
        size = path.stat().st_size
    except OSError as exc:  # gone since it was indexed
        raise ExtractError(f"cannot read file: {exc.strerror or exc}") from exc
    if size > max_file_bytes:
        raise ExtractError("file too large to draw")
    if request.kind == "image":
        return _picture(path, request)
    document = _open(path)
    try:
        if not 1 <= request.page <= len(document):
            raise ExtractError(f"no page {request.page}: the PDF has {len(document)}")
        page = document[request.page - 1]
        try:
            regions = _regions(page, request.passage) if request.passage else ()
            png, width, height = _draw(page, request.width, request.max_base64)
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        raise ExtractError(f"corrupt PDF: {exc}") from exc
    finally:
        document.close()
    return _page(png, width, height, regions)


def _page(png: bytes, width: int, height: int, regions: tuple[Rect, ...]) -> RenderedPage:
    return RenderedPage("", "page", png=png, width=width, height=height, regions=regions)


def _picture(path: Path, request: PageRequest) -> RenderedPage:
    from engine.extract.images import image_page_png

    width = min(max(request.width, MIN_WIDTH), MAX_WIDTH)
    for _ in range(_TRIES):
        png, drawn_width, height = image_page_png(path, request.page, width)
        if (len(png) + 2) // 3 * 4 <= request.max_base64:
            return _page(png, drawn_width, height, ())
        width = int(width * _SHRINK)
    raise ExtractError("the picture does not fit in a message even when drawn small")


def _draw(page: pdfium.PdfPage, width: int, max_base64: int) -> tuple[bytes, int, int]:
    page_width, _ = page.get_size()
    width = min(max(width, MIN_WIDTH), MAX_WIDTH)
    for _ in range(_TRIES):
        image = page.render(scale=width / max(page_width, 1.0)).to_pil()
        for candidate in (image, image.quantize(64)):  # a palette when full colour is too big
            buffer = io.BytesIO()
            candidate.save(buffer, "PNG", optimize=False, compress_level=6)
            if (len(buffer.getvalue()) + 2) // 3 * 4 <= max_base64:
                return buffer.getvalue(), image.width, image.height
        width = int(width * _SHRINK)
        if width < MIN_WIDTH:
            break
    raise ExtractError("the page does not fit in a message even when drawn small")


def _regions(page: pdfium.PdfPage, passage: str) -> tuple[Rect, ...]:
    textpage = page.get_textpage()
    try:
        raw = textpage.get_text_range()
        clean = clean_text(raw)
        span = _find(clean, passage)
        if span is None:
            return ()
        first, last = _raw_range(clean, raw, *span)
        if last <= first:
            return ()
        count = textpage.count_rects(first, last - first)
        rects = [textpage.get_rect(i) for i in range(count)]
    finally:
        textpage.close()
    return tuple(_fractions(page, r) for r in rects)


def _find(page_text: str, passage: str) -> tuple[int, int] | None:
    """Where the passage's text starts on the page (it may run on to the next one)."""
    passage = passage.strip()
    for size in (160, 80, 40, 20):
        probe = passage[:size]
        at = page_text.find(probe)
        if probe and at >= 0:
            return at, min(at + len(passage), len(page_text))
    return None


def _raw_range(clean: str, raw: str, start: int, end: int) -> tuple[int, int]:
    """pdfium character indices of the words of `clean[start:end]`, matched word by word."""
    clean_words = list(_WORD.finditer(clean))
    raw_words = list(_WORD.finditer(raw))
    matcher = difflib.SequenceMatcher(
        None, [m.group() for m in clean_words], [m.group() for m in raw_words], autojunk=False
    )
    first = last = -1
    for a, b, size in matcher.get_matching_blocks():
        for i in range(size):
            word = clean_words[a + i]
            if word.end() <= start or word.start() >= end:
                continue
            raw_word = raw_words[b + i]
            first = raw_word.start() if first < 0 else first
            last = raw_word.end()
    return first, last


def _fractions(page: pdfium.PdfPage, rect: tuple[float, float, float, float]) -> Rect:
    """A rectangle in PDF points (left, bottom, right, top) as fractions of the drawn page."""
    left, bottom, right, top = rect
    box_left, box_bottom, box_right, box_top = page.get_bbox()  # the part that is drawn
    w, h = max(box_right - box_left, 1e-6), max(box_top - box_bottom, 1e-6)
    x0, x1 = (left - box_left) / w, (right - box_left) / w
    y0, y1 = (box_top - top) / h, (box_top - bottom) / h  # from the top, as images count
    rotation = page.get_rotation() % 360
    corners = [(x0, y0), (x1, y1)]
    if rotation == 90:
        corners = [(1 - y, x) for x, y in corners]
    elif rotation == 180:
        corners = [(1 - x, 1 - y) for x, y in corners]
    elif rotation == 270:
        corners = [(y, 1 - x) for x, y in corners]
    xs, ys = sorted(c[0] for c in corners), sorted(c[1] for c in corners)
    return (_clip(xs[0]), _clip(ys[0]), _clip(xs[1]), _clip(ys[1]))


def _clip(value: float) -> float:
    return round(min(max(value, 0.0), 1.0), 5)
