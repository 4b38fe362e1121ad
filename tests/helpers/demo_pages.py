"""A real PDF for the screenshots' stand-in engine, and its pages drawn the way the engine draws
them (pypdfium2), with the regions a passage covers, so the fake answers look like real ones."""

from __future__ import annotations

import io
from pathlib import Path

REPORT_TITLE = "Arctic tern tracking: field report 2026"
REPORT_PAGES = (
    ("Summary", (
        "Between May and August we fitted forty-two Arctic terns on the Farne Islands with "
        "light-level geolocators weighing under a gram. Thirty-one devices were recovered the "
        "following summer, a return rate in line with earlier studies.",
        "This report describes the routes, the timing of the journey and the stopover sites "
        "the birds used on their way south and back.",
    )),
    ("Routes and distances", (
        "Arctic terns make the longest migration of any animal: from the Arctic to the "
        "Antarctic and back each year, about seventy thousand kilometres on average, and up "
        "to ninety thousand for birds that wander widely.",
        "Rather than flying the shortest route, the birds follow the prevailing winds in a "
        "zig-zag over the Atlantic, first along the coast of West Africa, then across to "
        "Brazil, before turning south towards the Weddell Sea.",
        "Most birds paused for about a month in the North Atlantic, where cold and warm "
        "currents meet and small fish are plentiful near the surface.",
    )),
    ("Timing", (
        "Departure from the colony peaked in the second week of August. The southward journey "
        "took ninety-three days on average; the return took only forty days, helped by a "
        "steady tail wind.",
    )),
)


def write_report_pdf(path: Path) -> None:
    """A three-page report; the migration passage is on page 2."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(22, 24, 22)
    pdf.set_auto_page_break(False)  # each section fits; the footer must not start a page
    for number, (heading, paragraphs) in enumerate(REPORT_PAGES, 1):
        pdf.add_page()
        pdf.set_font("helvetica", "B", 9)
        pdf.set_text_color(120, 120, 120)
        pdf.cell(0, 6, REPORT_TITLE, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
        pdf.set_text_color(20, 20, 20)
        pdf.set_font("helvetica", "B", 17)
        pdf.cell(0, 10, f"{number}. {heading}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        pdf.set_font("times", size=12)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6.4, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        pdf.set_y(-20)
        pdf.set_font("helvetica", size=9)
        pdf.set_text_color(120, 120, 120)
        pdf.cell(0, 6, str(number), align="C")
    pdf.output(str(path))


def render_page(path: Path, page: int, passage: str, width: int
                ) -> tuple[bytes, int, int, tuple[tuple[float, float, float, float], ...]]:
    """(PNG, width, height, regions) for 1-based `page`, the regions covering `passage` line by
    line as fractions of the page (x0, y0, x1, y1, top-left origin)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        sheet = document[page - 1]
        page_w, page_h = sheet.get_size()
        bitmap = sheet.render(scale=width / page_w)
        image = bitmap.to_pil()
        out = io.BytesIO()
        image.save(out, "PNG")
        text = sheet.get_textpage()
        lines: list[list[float]] = []
        searcher = text.search(passage, match_case=False)
        found = searcher.get_next()
        if found is not None:
            first, count = found
            for i in range(first, first + count):
                left, bottom, right, top = text.get_charbox(i)
                if right <= left:
                    continue
                if lines and abs(lines[-1][1] - bottom) < 3:
                    line = lines[-1]
                    line[0], line[2], line[3] = min(line[0], left), max(line[2], right), max(
                        line[3], top)
                else:
                    lines.append([left, bottom, right, top])
        regions = tuple((x0 / page_w, 1 - y1 / page_h, x1 / page_w, 1 - y0 / page_h)
                        for x0, y0, x1, y1 in lines)
        return out.getvalue(), image.width, image.height, regions
    finally:
        document.close()
