"""Word and PowerPoint files: paragraphs, tables and slide notes in reading order, with headings.

python-docx and python-pptx are imported by the first file that needs them: together they are
95 ms of the 190 that importing engine.extract took, in each process that imports it (the
engine, every extraction and OCR child), and most folders hold few such files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.extract.archive import check_zip
from engine.extract.base import Extracted, ExtractError, TextBuilder, reading, register

if TYPE_CHECKING:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

# Office encrypts a password-protected .docx/.pptx into an OLE2 compound file.
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_TITLE_STYLES = frozenset({"title"})


def _refuse_encrypted(path: Path, label: str) -> None:
    with path.open("rb") as handle:
        if handle.read(len(_OLE2_MAGIC)) == _OLE2_MAGIC:
            raise ExtractError(f"encrypted {label}: needs a password")


# --- Word -----------------------------------------------------------------------------


def _heading_level(paragraph: Paragraph) -> int:
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    match = _HEADING_STYLE.match(name.strip())
    if match:
        return max(1, int(match.group(1)))
    return 1 if name.strip().lower() in _TITLE_STYLES else 0


def _docx_table_text(table: Table) -> str:
    from docx.text.paragraph import Paragraph

    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            parts = (
                item.text if isinstance(item, Paragraph) else _docx_table_text(item)
                for item in cell.iter_inner_content()
            )
            cells.append(" ".join(" ".join(parts).split()))
        rows.append("\t".join(cells))
    return "\n".join(rows)


@register(
    ".docx",
    ".docm",
    mimes=("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
)
def extract_docx(path: Path) -> Extracted:
    import docx
    from docx.text.paragraph import Paragraph

    _refuse_encrypted(path, "DOCX")
    check_zip(path, "DOCX")  # python-docx reads every part whole
    builder = TextBuilder()
    with reading("DOCX"):
        document = docx.Document(str(path))
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                builder.add(item.text, heading_level=_heading_level(item))
            else:
                builder.add(_docx_table_text(item))
    return builder.build("docx")


# --- PowerPoint -----------------------------------------------------------------------


def _shapes(shapes: Any) -> Iterator[Any]:
    """Every shape, descending into groups."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _shape_text(shape: Any) -> str:
    if shape.has_text_frame:
        return str(shape.text_frame.text)
    if getattr(shape, "has_table", False):
        return "\n".join(
            "\t".join(" ".join(cell.text.split()) for cell in row.cells) for row in shape.table.rows
        )
    return ""


def _slide_title(slide: Any) -> tuple[str, int | None]:
    """The slide's title text and the id of the shape holding it."""
    title_shape = slide.shapes.title
    if title_shape is None or not title_shape.has_text_frame:
        return "", None
    return " ".join(title_shape.text_frame.text.split()), title_shape.shape_id


@register(
    ".pptx",
    ".pptm",
    mimes=("application/vnd.openxmlformats-officedocument.presentationml.presentation",),
)
def extract_pptx(path: Path) -> Extracted:
    """Each slide is a page that opens with a "Slide N: title" heading."""
    import pptx

    _refuse_encrypted(path, "PPTX")
    check_zip(path, "PPTX")
    builder = TextBuilder()
    page_starts: list[int] = []
    with reading("PPTX"):
        presentation = pptx.Presentation(str(path))
        for number, slide in enumerate(presentation.slides, start=1):
            title, title_id = _slide_title(slide)
            heading = f"Slide {number}: {title}" if title else f"Slide {number}"
            start = builder.add(heading, heading_level=1)
            if start is not None:  # always: a heading has text
                page_starts.append(start)
            for shape in _shapes(slide.shapes):
                if shape.shape_id != title_id:
                    builder.add(_shape_text(shape))
            if slide.has_notes_slide:
                notes = slide.notes_slide.notes_text_frame
                if notes is not None:
                    builder.add(notes.text)
    return builder.build("pptx", tuple(page_starts))
