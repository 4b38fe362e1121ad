"""extract_file on real PDF, Office, OpenDocument, EPUB, HTML and e-mail files built in tmp_path."""

from __future__ import annotations

import zipfile
from email.message import EmailMessage
from pathlib import Path

import docx
import pptx
import pytest
from ebooklib import epub as ebook
from fpdf import FPDF
from odf import opendocument
from odf import table as odf_table
from odf import text as odf_text
from pptx.util import Inches

from engine.extract import Extracted, ExtractError, UnsupportedFile, extract_file

LIMIT = 50 * 1024 * 1024
PLANTED = "The quick brown fox vaulted over the sleepy kingfisher"


def extract(path: Path) -> Extracted:
    """extract_file, plus the offset invariants every later stage relies on."""
    result = extract_file(path, LIMIT)
    starts = result.page_starts
    assert not starts or starts[0] == 0
    assert all(a < b for a, b in zip(starts, starts[1:], strict=False))
    assert all(s <= len(result.text) for s in starts)
    heading_starts = [h.start for h in result.headings]
    assert heading_starts == sorted(heading_starts)
    assert all(0 <= s < len(result.text) for s in heading_starts)
    assert "\n\n\n\n" not in result.text  # only an empty PDF page leaves two blank lines
    return result


def assert_heading(result: Extracted, level: int, title: str) -> None:
    """A heading with this level and title exists and its offset points at its own text."""
    matches = [h for h in result.headings if h.title == title]
    assert matches, f"no heading {title!r} in {result.headings}"
    assert matches[0].level == level
    assert result.text[matches[0].start :].startswith(title)


# --- PDF ------------------------------------------------------------------------------


def write_pdf(path: Path, pages: list[str], *, password: str | None = None) -> None:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number, body in enumerate(pages, start=1):
        pdf.add_page()
        if body:
            pdf.start_section(f"Part {number}")
            pdf.multi_cell(0, 8, body)
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    pdf.output(str(path))


def test_pdf_keeps_pages_and_finds_the_planted_sentence(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    write_pdf(path, ["Opening page about otters.", f"{PLANTED}.", "Closing page about herons."])
    result = extract(path)
    assert result.kind == "pdf"
    assert len(result.page_starts) == 3
    offset = result.text.index(PLANTED)
    assert result.page_at(offset) == 2
    assert result.page_at(result.text.index("otters")) == 1
    assert result.page_at(result.text.index("herons")) == 3
    assert [(h.level, h.title) for h in result.headings] == [
        (1, "Part 1"),
        (1, "Part 2"),
        (1, "Part 3"),
    ]
    assert result.heading_at(offset) == "Part 2"


def test_pdf_blank_page_still_gets_its_own_start(tmp_path: Path) -> None:
    path = tmp_path / "gappy.pdf"
    write_pdf(path, ["", f"{PLANTED}.", ""])
    result = extract(path)
    assert len(result.page_starts) == 3
    assert result.page_at(result.text.index(PLANTED)) == 2


def test_encrypted_pdf_says_it_needs_a_password(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    write_pdf(path, [PLANTED], password="hunter2")
    with pytest.raises(ExtractError, match="encrypted PDF"):
        extract(path)


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage", b"not a pdf at all" * 50],
)
def test_corrupt_pdf_is_an_extract_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    with pytest.raises(ExtractError, match="corrupt PDF"):
        extract(path)


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".pptx", ".odt", ".epub"])
def test_empty_documents_are_empty_not_corrupt(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedFile, match="^empty file$"):
        extract(path)


# --- Word and PowerPoint --------------------------------------------------------------


def test_docx_paragraphs_tables_and_heading_styles(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Annual Report", level=0)
    document.add_paragraph("An introduction before any section.")
    document.add_heading("Findings", level=1)
    document.add_paragraph(PLANTED + ".")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Species"
    table.cell(0, 1).text = "Count"
    table.cell(1, 0).text = "Pangolin"
    table.cell(1, 1).text = "42"
    document.add_heading("Methods in detail", level=2)
    document.add_paragraph("We counted the axolotls twice.")
    path = tmp_path / "report.docx"
    document.save(str(path))

    result = extract(path)
    assert result.kind == "docx"
    assert PLANTED in result.text
    assert "Species\tCount\nPangolin\t42" in result.text
    assert_heading(result, 1, "Annual Report")
    assert_heading(result, 1, "Findings")
    assert_heading(result, 2, "Methods in detail")
    assert result.heading_at(result.text.index(PLANTED)) == "Findings"
    assert result.heading_at(result.text.index("Pangolin")) == "Findings"
    assert result.heading_at(result.text.index("axolotls")) == "Methods in detail"
    # Table text sits where the table is, between the two sections.
    assert (
        result.text.index(PLANTED) < result.text.index("Pangolin") < result.text.index("axolotls")
    )


def test_docx_merged_cells_are_not_repeated(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "Wide heron cell"
    table.cell(0, 2).text = "narrow"
    path = tmp_path / "merged.docx"
    document.save(str(path))
    result = extract(path)
    assert result.text.count("heron") == 1
    assert "narrow" in result.text


def test_pptx_slides_are_pages_with_title_headings(tmp_path: Path) -> None:
    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Quarterly Plan"
    first.placeholders[1].text = "Hire two more lemur keepers"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "Wildlife Numbers"
    box = second.shapes.add_textbox(Inches(1), Inches(2), Inches(4), Inches(1))
    box.text_frame.text = PLANTED
    grid = second.shapes.add_table(2, 2, Inches(1), Inches(3), Inches(4), Inches(1)).table
    grid.cell(0, 0).text = "Badgers"
    grid.cell(1, 1).text = "17"
    second.notes_slide.notes_text_frame.text = "Speaker note: mention the capybara."
    presentation.slides.add_slide(presentation.slide_layouts[6])  # blank, no title
    path = tmp_path / "deck.pptx"
    presentation.save(str(path))

    result = extract(path)
    assert result.kind == "pptx"
    assert [h.title for h in result.headings] == [
        "Slide 1: Quarterly Plan",
        "Slide 2: Wildlife Numbers",
        "Slide 3",
    ]
    assert len(result.page_starts) == 3
    for name in (PLANTED, "Badgers", "17", "capybara"):
        assert result.page_at(result.text.index(name)) == 2
        assert result.heading_at(result.text.index(name)) == "Slide 2: Wildlife Numbers"
    assert result.page_at(result.text.index("lemur keepers")) == 1
    assert result.text.count("Wildlife Numbers") == 1


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".odt", ".epub"])
def test_corrupt_zip_documents_are_extract_errors(tmp_path: Path, suffix: str) -> None:
    label = {".docx": "DOCX", ".pptx": "PPTX", ".odt": "ODT", ".epub": "EPUB"}[suffix]
    not_zip = tmp_path / f"garbage{suffix}"
    not_zip.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 20)
    with pytest.raises(ExtractError, match=f"corrupt {label}"):
        extract(not_zip)
    empty_zip = tmp_path / f"empty{suffix}"
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("hello.txt", "nothing useful")
    with pytest.raises(ExtractError, match=f"corrupt {label}"):
        extract(empty_zip)


@pytest.mark.parametrize("suffix", [".docx", ".pptx"])
def test_password_protected_office_files_say_so(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"locked{suffix}"
    # What Office writes for a password-protected file: an OLE2 compound file, not a zip.
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(ExtractError, match=f"encrypted {suffix[1:].upper()}: needs a password"):
        extract(path)


# --- OpenDocument ---------------------------------------------------------------------


def test_odt_headings_spaces_lists_and_tables(tmp_path: Path) -> None:
    document = opendocument.OpenDocumentText()
    body = document.text
    body.addElement(odf_text.H(outlinelevel=1, text="Field Guide"))
    paragraph = odf_text.P(text="The ")
    paragraph.addElement(odf_text.Span(text="quick brown fox"))
    paragraph.addText(" vaulted over")
    paragraph.addElement(odf_text.S(c=3))
    paragraph.addText("the sleepy")
    paragraph.addElement(odf_text.Tab())
    paragraph.addText("kingfisher")
    paragraph.addElement(odf_text.LineBreak())
    paragraph.addText("on a second line")
    body.addElement(paragraph)
    body.addElement(odf_text.H(outlinelevel=2, text="Birds"))
    bullets = odf_text.List()
    for name in ("puffin", "gannet"):
        item = odf_text.ListItem()
        item.addElement(odf_text.P(text=name))
        bullets.addElement(item)
    body.addElement(bullets)
    grid = odf_table.Table(name="Counts")
    grid.addElement(odf_table.TableColumn(numbercolumnsrepeated=2))
    for cells in (("Owl", "3"), ("Wren", "12")):
        row = odf_table.TableRow()
        for value in cells:
            cell = odf_table.TableCell()
            cell.addElement(odf_text.P(text=value))
            row.addElement(cell)
        grid.addElement(row)
    body.addElement(grid)
    path = tmp_path / "guide.odt"
    document.save(str(path))

    result = extract(path)
    assert result.kind == "odt"
    assert "The quick brown fox vaulted over   the sleepy\tkingfisher\non a second line" in (
        result.text
    )
    assert "puffin\ngannet" in result.text
    assert "Owl\t3\nWren\t12" in result.text
    assert_heading(result, 1, "Field Guide")
    assert_heading(result, 2, "Birds")
    assert result.heading_at(result.text.index("Wren")) == "Birds"
    assert result.heading_at(result.text.index("kingfisher")) == "Field Guide"


# --- EPUB -----------------------------------------------------------------------------


def write_epub(path: Path, chapters: list[tuple[str, str]]) -> None:
    book = ebook.EpubBook()
    book.set_identifier("dowse-test")
    book.set_title("A Test Book")
    book.set_language("en")
    items = []
    for number, (title, body) in enumerate(chapters, start=1):
        chapter = ebook.EpubHtml(title=title, file_name=f"text/ch{number}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>{title}</h1>{body}</body></html>"
        book.add_item(chapter)
        items.append(chapter)
    book.toc = items
    book.add_item(ebook.EpubNcx())
    book.add_item(ebook.EpubNav())
    # Spine order deliberately differs from the order the chapters were added.
    book.spine = list(reversed(items))
    ebook.write_epub(str(path), book)


def test_epub_chapters_in_spine_order_with_shifted_headings(tmp_path: Path) -> None:
    path = tmp_path / "book.epub"
    write_epub(
        path,
        [
            ("The Second Chapter", f"<p>{PLANTED}.</p><h2>A Digression</h2><p>On moles.</p>"),
            ("The First Chapter", "<p>It begins with a <em>lighthouse</em>.</p>"),
        ],
    )
    result = extract(path)
    assert result.kind == "epub"
    assert result.text.index("lighthouse") < result.text.index(PLANTED)
    assert [(h.level, h.title) for h in result.headings] == [
        (1, "The First Chapter"),
        (1, "The Second Chapter"),
        (2, "A Digression"),
    ]
    for heading in result.headings:
        assert result.text[heading.start :].startswith(heading.title)
    assert result.heading_at(result.text.index(PLANTED)) == "The Second Chapter"
    assert result.heading_at(result.text.index("moles")) == "A Digression"


def test_drm_encrypted_epub_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.epub"
    write_epub(path, [("Only Chapter", f"<p>{PLANTED}</p>")])
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(
            "META-INF/encryption.xml",
            '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
            'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
            '<enc:CipherData><enc:CipherReference URI="EPUB/text/ch1.xhtml"/>'
            "</enc:CipherData></enc:EncryptedData></encryption>",
        )
    with pytest.raises(ExtractError, match="encrypted EPUB"):
        extract(path)


# --- HTML and e-mail ------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><title>Head title is metadata</title>
<style>body { color: red; } .secret-style {}</style>
<script>var secretScript = "<p>not text</p>";</script></head>
<body><noscript>secret noscript</noscript><script>let secretInBody = 1;</script>
<style>.secret-body-style { color: blue }</style>
<h1>Otters &amp; Friends</h1>
<p>The quick brown fox
   vaulted over the <b>sleepy</b> kingfisher&nbsp;today.</p>
<template><p>secret template</p></template>
<h2>Caf&eacute; notes</h2><ul><li>espresso</li><li>ristretto</li></ul>
<table><tr><th>Name</th><td>Value</td></tr></table>
<pre>  indented
    code</pre><p>line one<br>line two</p>
</body></html>"""


def test_html_drops_scripts_and_styles_and_keeps_headings(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    result = extract(path)
    assert result.kind == "html"
    assert "secret" not in result.text and "Head title" not in result.text
    assert PLANTED + " today." in result.text
    assert "espresso\nristretto" in result.text
    assert "Name\tValue" in result.text
    assert "  indented\n    code" in result.text
    assert "line one\nline two" in result.text
    assert_heading(result, 1, "Otters & Friends")
    assert_heading(result, 2, "Café notes")
    assert result.heading_at(result.text.index("ristretto")) == "Café notes"


def test_html_meta_charset_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "legacy.htm"
    markup = '<html><head><meta charset="windows-1252"></head><body><p>Crème brûlée — oui</p>'
    path.write_bytes(markup.encode("cp1252"))
    assert extract(path).text == "Crème brûlée — oui"


def test_html_with_unclosed_head_keeps_its_body(tmp_path: Path) -> None:
    path = tmp_path / "sloppy.html"
    path.write_text("<html><head><title>x</title><body><p>Visible words</p>", encoding="utf-8")
    assert extract(path).text == "Visible words"


def write_eml(path: Path, message: EmailMessage) -> None:
    path.write_bytes(bytes(message))


def new_message(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "Ada Lovelace <ada@example.org>"
    message["To"] = "charles@example.org"
    message["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
    return message


def test_eml_plain_body_with_header_block_and_attachment_skipped(tmp_path: Path) -> None:
    message = new_message("Trip to the estuary")
    message.set_content(f"Hello Charles,\n\n{PLANTED}.\n\nAda")
    message.add_alternative("<p>HTML copy of the letter</p>", subtype="html")
    message.add_attachment(
        b"ATTACHED-BYTES-SHOULD-NOT-APPEAR",
        maintype="application",
        subtype="octet-stream",
        filename="data.bin",
    )
    path = tmp_path / "letter.eml"
    write_eml(path, message)
    result = extract(path)
    assert result.kind == "email"
    assert result.text.startswith(
        "Subject: Trip to the estuary\nFrom: Ada Lovelace <ada@example.org>"
    )
    assert "To: charles@example.org" in result.text and "Date: Mon, 02 Mar 2026" in result.text
    assert PLANTED in result.text
    assert "HTML copy" not in result.text and "ATTACHED" not in result.text
    assert [(h.start, h.level, h.title) for h in result.headings] == [(0, 1, "Trip to the estuary")]


def test_eml_html_only_body_goes_through_the_html_reader(tmp_path: Path) -> None:
    message = new_message("Newsletter")
    message.set_content(
        f"<html><style>.x{{}}</style><body><h2>Spring</h2><p>{PLANTED}</p></body></html>",
        subtype="html",
        charset="iso-8859-1",
    )
    path = tmp_path / "news.eml"
    write_eml(path, message)
    result = extract(path)
    assert PLANTED in result.text and ".x{" not in result.text
    assert [h.title for h in result.headings] == ["Newsletter", "Spring"]
    assert result.heading_at(result.text.index(PLANTED)) == "Spring"
    assert result.text[result.headings[1].start :].startswith("Spring")
