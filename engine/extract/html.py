"""HTML to plain text with heading offsets, through libxml2's HTML parser (lxml).

lxml calls the collector for each element's start and end and each run of text, as a SAX
parser would; the parsing itself runs in C. The standard library's html.parser, used before,
gave the same text on every page of python3-doc (530 pages) at 2.3 times the CPU time, most of
the extraction children's time after tokenizing.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from lxml import etree

from engine.extract.base import Extracted, TextBuilder, register
from engine.extract.text import decode_text

# Elements whose content is never shown as text.
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "svg", "math"})
# Elements that start a new block of text.
_BLOCKS = frozenset(
    """
    address article aside blockquote body caption center dd details dialog dir div dl dt
    fieldset figcaption figure footer form frameset h1 h2 h3 h4 h5 h6 header hgroup hr html
    legend li main menu nav ol option p pre section summary table tbody tfoot thead
    title tr ul
    """.split()
)
# Blocks that sit one per line rather than one per paragraph.
_TIGHT = frozenset({"li", "tr", "dt", "dd", "option"})
_CELLS = frozenset({"td", "th"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACE = re.compile(r"\s+")
_SPACES = re.compile(r"[ \t]*\t[ \t]*| {2,}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


class _TextCollector:
    """Collects visible text block by block into a TextBuilder: an lxml parser target."""

    def __init__(self) -> None:
        self.builder = TextBuilder()
        self._block: list[str] = []
        self._skipping: list[str] = []  # open elements whose content is dropped
        self._pre = 0
        self._heading_level = 0
        self._tight = False  # the open block is a list item or table row
        self._last_tight = False

    def start(self, tag: str, attrib: object) -> None:
        if tag == "body":
            # Pages that never close <head> would otherwise lose their whole body.
            self._skipping.clear()
        if tag in _SKIPPED:
            self._skipping.append(tag)
            return
        if self._skipping:
            return
        if tag == "br":
            self._block.append("\n")
        elif tag in _CELLS:
            self._block.append("\t")
        elif tag in _BLOCKS:
            self._flush()
            self._tight = tag in _TIGHT
            self._heading_level = _HEADINGS.get(tag, 0)
            if tag == "pre":
                self._pre += 1

    def end(self, tag: str) -> None:
        if self._skipping:
            if tag in self._skipping:
                # Close up to the matching element, forgiving unclosed children.
                while self._skipping.pop() != tag:
                    pass
            return
        if tag in _BLOCKS:
            self._flush()
            self._heading_level = 0
            self._tight = False
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def data(self, data: str) -> None:
        if self._skipping:
            return
        self._block.append(data if self._pre else _SPACE.sub(" ", data))

    def close(self) -> None:
        self._flush()

    def _flush(self) -> None:
        raw = "".join(self._block)
        self._block = []
        if not self._pre:
            raw = "\n".join(
                _SPACES.sub(_tab_or_space, line).strip(" \t") for line in raw.split("\n")
            )
        if not raw.strip():
            return
        if self._heading_level:
            raw = " ".join(raw.split())
        sep = "\n" if self._tight and self._last_tight else "\n\n"
        self.builder.add(raw, heading_level=self._heading_level, sep=sep)
        self._last_tight = self._tight


def _tab_or_space(match: re.Match[str]) -> str:
    return "\t" if "\t" in match.group() else " "


def html_to_extracted(markup: str, kind: str) -> Extracted:
    """Visible text of an HTML or XHTML document, with h1–h6 as headings."""
    try:
        return _collect(markup, kind)
    except UnicodeEncodeError:  # a lone surrogate, from decoding with surrogateescape
        return _collect(_SURROGATE.sub("\ufffd", markup), kind)


def _collect(markup: str, kind: str) -> Extracted:
    collector = _TextCollector()
    # recover: any markup at all gives its text; huge_tree: no depth or text-size limits
    # (the file size and the child's time limit bound the work instead).
    parser = etree.HTMLParser(
        target=collector, recover=True, no_network=True, huge_tree=True,
        remove_comments=True, remove_pis=True,
    )
    parser.feed(markup)
    parser.close()
    return collector.builder.build(kind)


def decode_html(data: bytes) -> str:
    """Decode by byte-order mark, then the document's own <meta charset>, then by guessing."""
    if not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            try:
                encoding = codecs.lookup(declared.group(1).decode("ascii")).name
            except LookupError:
                encoding = ""
            # A page that says UTF-16 in ASCII bytes is not UTF-16 (WHATWG encoding spec).
            if encoding and not encoding.startswith("utf-16"):
                return data.decode(encoding, errors="replace")
    return decode_text(data)


@register(".html", ".htm", ".xhtml", ".shtml", mimes=("text/html", "application/xhtml+xml"))
def extract_html(path: Path) -> Extracted:
    return html_to_extracted(decode_html(path.read_bytes()), "html")
