"""PDF text page by page through pdfium, so that results can name the page they come from."""

from __future__ import annotations

import logging
from pathlib import Path

import pypdfium2 as pdfium

from engine.extract.base import Extracted, ExtractError, Heading, clean_text, register

log = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"


def _open(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise ExtractError("encrypted PDF: needs a password") from exc
        if "file access" in reason.lower():
            raise ExtractError("cannot read file: access denied or gone") from exc
        raise ExtractError(f"corrupt PDF: {reason}") from exc


def _page_text(document: pdfium.PdfDocument, index: int) -> str:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            return clean_text(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()


def _outline(document: pdfium.PdfDocument, page_starts: list[int]) -> list[Heading]:
    """The PDF's bookmarks as headings at the start of the page each one points to."""
    headings: list[Heading] = []
    try:
        for bookmark in document.get_toc(max_depth=6):
            dest = bookmark.get_dest()
            page = dest.get_index() if dest is not None else None
            title = " ".join(bookmark.get_title().split())
            if page is None or not 0 <= page < len(page_starts) or not title:
                continue
            headings.append(Heading(page_starts[page], bookmark.level + 1, title))
    except Exception:
        # Bookmarks are an extra: a broken outline (or pypdfium2 < 5, whose get_toc yields
        # another type) must not cost the document its text.
        log.debug("unreadable PDF outline", exc_info=True)
        return []
    # Bookmarks need not follow page order; heading_at() needs them sorted.
    return sorted(headings, key=lambda h: h.start)


@register(".pdf", mimes=("application/pdf",))
def extract_pdf(path: Path) -> Extracted:
    document = _open(path)
    try:
        parts: list[str] = []
        page_starts: list[int] = []
        offset = 0
        for index in range(len(document)):
            if parts:
                parts.append(PAGE_SEPARATOR)
                offset += len(PAGE_SEPARATOR)
            page_starts.append(offset)
            text = _page_text(document, index)
            parts.append(text)
            offset += len(text)
        headings = _outline(document, page_starts)
    except pdfium.PdfiumError as exc:
        raise ExtractError(f"corrupt PDF: {exc}") from exc
    finally:
        document.close()
    return Extracted("".join(parts), "pdf", tuple(page_starts), tuple(headings))
