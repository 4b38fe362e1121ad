"""OpenDocument text read straight from its content.xml, so that odfpy is not needed at run time."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree

from engine.extract.archive import check_zip, parse_xml
from engine.extract.base import Extracted, ExtractError, TextBuilder, reading, register

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"

_SPACE = re.compile(r"[ \t\r\n]+")
_ROW_GROUPS = frozenset(
    {f"{_TABLE}table-header-rows", f"{_TABLE}table-rows", f"{_TABLE}table-row-group"}
)
# Inline elements that are not text at all, or are remarks about it rather than part of it.
_DROPPED = frozenset(
    {
        f"{_OFFICE}annotation",
        f"{_OFFICE}annotation-end",
        f"{_TEXT}note-citation",
        f"{_TEXT}tracked-changes",
        f"{_TEXT}sequence-decls",
    }
)


def _inline_text(element: ElementTree.Element) -> str:
    """The text inside a paragraph, with ODF's space, tab and line-break elements restored."""
    # ODF collapses white space in paragraphs like HTML; real spaces are <text:s/> elements.
    parts: list[str] = [_SPACE.sub(" ", element.text or "")]
    for child in element:
        tag = child.tag
        if tag == f"{_TEXT}s":
            parts.append(" " * int(child.get(f"{_TEXT}c", "1")))
        elif tag == f"{_TEXT}tab":
            parts.append("\t")
        elif tag == f"{_TEXT}line-break":
            parts.append("\n")
        elif tag not in _DROPPED:
            # Spans, links, notes, frames: their text sits between spaces when it is a block.
            inner = _inline_text(child)
            parts.append(f" {inner} " if child.tag.endswith(("}p", "}h", "}note-body")) else inner)
        parts.append(_SPACE.sub(" ", child.tail or ""))
    return "".join(parts)


class _Walker:
    """Walks the body and hands each paragraph, heading, list item and table to a builder."""

    def __init__(self) -> None:
        self.builder = TextBuilder()
        self._handlers: dict[str, Callable[[ElementTree.Element, bool], None]] = {
            f"{_TEXT}h": self._heading,
            f"{_TEXT}p": self._paragraph,
            f"{_TEXT}list": self._list,
            f"{_TABLE}table": self._table,
        }

    def walk(self, element: ElementTree.Element, tight: bool = False) -> None:
        for child in element:
            if child.tag in _DROPPED:
                continue
            handler = self._handlers.get(child.tag)
            if handler is not None:
                handler(child, tight)
            else:
                self.walk(child, tight)

    def _heading(self, element: ElementTree.Element, tight: bool) -> None:
        level = element.get(f"{_TEXT}outline-level", "1")
        text = _inline_text(element).strip(" ")
        self.builder.add(text, heading_level=int(level) if level.isdigit() else 1)

    def _paragraph(self, element: ElementTree.Element, tight: bool) -> None:
        self.builder.add(_inline_text(element).strip(" "), sep="\n" if tight else "\n\n")

    def _list(self, element: ElementTree.Element, tight: bool) -> None:
        self.walk(element, tight=True)

    def _table(self, element: ElementTree.Element, tight: bool) -> None:
        rows: list[str] = []
        for row in _rows(element):
            cells = [
                " ".join(_inline_text(cell).split())
                for cell in row
                if cell.tag == f"{_TABLE}table-cell"
            ]
            # Spreadsheets repeat empty trailing cells; they carry no words.
            while cells and not cells[-1]:
                cells.pop()
            rows.append("\t".join(cells))
        self.builder.add("\n".join(rows))


def _rows(table: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """The table's own rows, not those of tables nested in its cells."""
    for child in table:
        if child.tag == f"{_TABLE}table-row":
            yield child
        elif child.tag in _ROW_GROUPS:
            yield from _rows(child)


def _read_content(path: Path) -> ElementTree.Element:
    check_zip(path, "ODT")
    with zipfile.ZipFile(path) as archive:
        try:
            data = archive.read("content.xml")
        except KeyError:
            raise ExtractError("corrupt ODT: no content.xml") from None
    # No entity expansion, and no nesting deeper than the recursive walk below can take.
    return parse_xml(data, "ODT")


@register(".odt", ".ott", mimes=("application/vnd.oasis.opendocument.text",))
def extract_odt(path: Path) -> Extracted:
    with reading("ODT"):
        root = _read_content(path)
        body = root.find(f"{_OFFICE}body")
        if body is None:
            raise ExtractError("corrupt ODT: content.xml has no body")
        walker = _Walker()
        walker.walk(body)
    return walker.builder.build("odt")
