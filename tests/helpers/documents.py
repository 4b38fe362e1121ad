"""Builds small real documents of every supported format, each with a planted sentence."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

FILLER = (
    "Dowse reads many kinds of files. This paragraph is ordinary filler text so that the "
    "planted sentence is not the only thing in the document."
)


def write_txt(path: Path, sentence: str) -> int | None:
    path.write_text(f"{FILLER}\n\n{sentence}\n\n{FILLER}\n", encoding="utf-8")
    return None


def write_md(path: Path, sentence: str) -> int | None:
    path.write_text(f"# Notes\n\n{FILLER}\n\n## Details\n\n{sentence}\n", encoding="utf-8")
    return None


def write_rst(path: Path, sentence: str) -> int | None:
    path.write_text(f"Notes\n=====\n\n{FILLER}\n\nDetails\n-------\n\n{sentence}\n")
    return None


def write_py(path: Path, sentence: str) -> int | None:
    path.write_text(f'def helper():\n    """{sentence}"""\n    return 42\n')
    return None


def write_html(path: Path, sentence: str) -> int | None:
    path.write_text(
        "<html><head><title>t</title><style>body {color: red}</style></head><body>"
        f"<h1>Report</h1><p>{FILLER}</p><script>var hidden = 'scriptword';</script>"
        f"<p>{sentence}</p></body></html>"
    )
    return None


def write_pdf(path: Path, sentence: str) -> int | None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for page_text in (FILLER, sentence, FILLER):
        pdf.add_page()
        pdf.multi_cell(0, 10, page_text)
    pdf.output(str(path))
    return 2  # the page the sentence is on


def write_docx(path: Path, sentence: str) -> int | None:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly notes", level=1)
    document.add_paragraph(FILLER)
    document.add_paragraph(sentence)
    document.save(str(path))
    return None


def write_pptx(path: Path, sentence: str) -> int | None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for text in (FILLER, sentence):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = "A slide"
        box = slide.shapes.add_textbox(Inches(1), Inches(2), Inches(6), Inches(2))
        box.text_frame.text = text
    deck.save(str(path))
    return 2  # slides count as pages


def write_odt(path: Path, sentence: str) -> int | None:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Minutes"))
    document.text.addElement(P(text=FILLER))
    document.text.addElement(P(text=sentence))
    document.save(str(path))
    return None


def write_epub(path: Path, sentence: str) -> int | None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("dowse-test")
    book.set_title("A test book")
    book.set_language("en")
    chapters = []
    for i, text in enumerate((FILLER, sentence), 1):
        chapter = epub.EpubHtml(title=f"Chapter {i}", file_name=f"c{i}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>Chapter {i}</h1><p>{text}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)
    return None


def write_eml(path: Path, sentence: str) -> int | None:
    message = EmailMessage()
    message["Subject"] = "Plans for the week"
    message["From"] = "ada@example.org"
    message["To"] = "bob@example.org"
    message.set_content(f"Hello Bob,\n\n{FILLER}\n\n{sentence}\n\nAda")
    path.write_bytes(bytes(message))
    return None


# suffix -> builder; each returns the 1-based page of the sentence, or None for unpaged formats.
BUILDERS: dict[str, Callable[[Path, str], int | None]] = {
    ".txt": write_txt,
    ".md": write_md,
    ".rst": write_rst,
    ".py": write_py,
    ".html": write_html,
    ".pdf": write_pdf,
    ".docx": write_docx,
    ".pptx": write_pptx,
    ".odt": write_odt,
    ".epub": write_epub,
    ".eml": write_eml,
}
