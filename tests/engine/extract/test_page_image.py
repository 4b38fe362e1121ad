"""A PDF page drawn with the passage's lines marked: the marks cover the passage's words."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from engine.extract import ExtractError, extract_file
from engine.extract.page_image import PageRequest, render_page

PARAGRAPHS = [
    "Honey bee colonies lose many workers over winter. Beekeepers in the north reported "
    "losses of nearly a third of their hives after the cold spell in February.",
    "Varroa mites weaken the brood and spread viruses; colonies treated in late summer "
    "came through the winter far better than untreated ones in the same apiary.",
]


def write_report(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "A short cover page.")
    pdf.add_page()
    for paragraph in PARAGRAPHS:
        pdf.multi_cell(0, 8, paragraph)
        pdf.ln(6)
    pdf.output(str(path))


def char_centres(path: Path, page: int, phrase: str) -> list[tuple[float, float]]:
    """Where pdfium puts the characters of `phrase`, as fractions of the page from top left."""
    document = pdfium.PdfDocument(path)
    try:
        pdf_page = document[page - 1]
        left, bottom, right, top = pdf_page.get_bbox()
        textpage = pdf_page.get_textpage()
        searcher = textpage.search(phrase)
        first = searcher.get_next()
        assert first is not None, phrase
        index, count = first
        centres = []
        for i in range(index, index + count):
            x0, y0, x1, y1 = textpage.get_charbox(i)
            if x1 > x0:  # pdfium's generated spaces and line breaks have no box
                centres.append((((x0 + x1) / 2 - left) / (right - left),
                                (top - (y0 + y1) / 2) / (top - bottom)))
        return centres
    finally:
        document.close()


def test_regions_cover_the_passage_and_nothing_before_it(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    write_report(path)
    doc = extract_file(path, 1 << 30)
    second = doc.text.index("Varroa")
    passage = doc.text[second : second + 120]
    drawn = render_page(PageRequest(str(path), 2, passage, "pdf", 600, 900_000), 1 << 30)
    image = Image.open(io.BytesIO(drawn.png))
    assert (image.width, image.height) == (drawn.width, drawn.height) and drawn.width == 600
    assert drawn.regions

    def inside(x: float, y: float) -> bool:
        return any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in drawn.regions)

    for phrase in ("Varroa mites weaken", "spread viruses"):
        assert all(inside(x, y) for x, y in char_centres(path, 2, phrase)), phrase
    assert not any(inside(x, y) for x, y in char_centres(path, 2, "Honey bee colonies"))


def test_a_page_too_big_for_a_message_is_drawn_smaller(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    write_report(path)
    big = render_page(PageRequest(str(path), 2, None, "pdf", 1200, 900_000), 1 << 30)
    budget = len(big.png) // 3  # in base64: a quarter of the full drawing
    small = render_page(PageRequest(str(path), 2, None, "pdf", 1200, budget), 1 << 30)
    assert small.width < big.width and (len(small.png) + 2) // 3 * 4 <= budget
    assert small.regions == ()


def test_a_missing_page_is_a_known_error(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    write_report(path)
    with pytest.raises(ExtractError, match="no page 9"):
        render_page(PageRequest(str(path), 9, None, "pdf", 600, 900_000), 1 << 30)
