"""Limits for zip-based documents (DOCX, PPTX, ODT, EPUB) and the XML inside them.

A 40 KB zip can unpack to gigabytes, and a 1 KB XML file can expand entities into gigabytes
(the "billion laughs"); a file nested thousands of elements deep overflows a recursive walk.
Each is refused before it costs more than reading its zip directory or parsing it once.
Python's zipfile never yields more than a member's declared size (and checks the CRC), so
the declared sizes are a safe upper bound.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from engine.extract.base import ExtractError, UnsupportedFile

_MB = 1024 * 1024
# Unpacked, a document of the 50 MB size limit with images is rarely above 100 MB.
MAX_UNPACKED_BYTES = 256 * _MB
# Word XML compresses about 10:1; 100:1 only from repetition, and a bomb is far beyond.
MAX_RATIO = 100
# Ratios of small members are noise: a 2 KB style sheet may well compress 150:1.
RATIO_MIN_BYTES = 4 * _MB
MAX_MEMBERS = 20_000
# Element nesting an extractor walks; real documents stay below 50.
MAX_XML_DEPTH = 256


def check_declared(
    parts: Sequence[tuple[str, int, int]], label: str, max_parts: int = MAX_MEMBERS
) -> None:
    """Refuse contents whose declared sizes exceed the caps; `parts` are (name, unpacked bytes,
    packed bytes). Zip-based documents and archives (engine.extract.members) share it."""
    if len(parts) > max_parts:
        raise UnsupportedFile(f"refused {label}: {len(parts):,} parts (a zip bomb?)")
    total = sum(size for _, size, _ in parts)
    if total > MAX_UNPACKED_BYTES:
        raise UnsupportedFile(
            f"refused {label}: it unpacks to {total / _MB:,.0f} MB, over the "
            f"{MAX_UNPACKED_BYTES / _MB:g} MB limit (a zip bomb?)"
        )
    for name, size, packed in parts:
        ratio = size / max(packed, 1)
        if size > RATIO_MIN_BYTES and ratio > MAX_RATIO:
            raise UnsupportedFile(
                f"refused {label}: {name} unpacks {ratio:,.0f} times its packed "
                f"size, over the {MAX_RATIO}:1 limit (a zip bomb?)"
            )


def check_zip(path: Path, label: str) -> None:
    """Refuse a zip whose declared contents exceed the caps; ExtractError if it is no zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        if isinstance(exc, PermissionError | FileNotFoundError):
            raise
        raise ExtractError(f"corrupt {label}: {exc}") from exc
    check_declared([(m.filename, m.file_size, m.compress_size) for m in members], label)


def parse_xml(data: bytes, label: str) -> Element:
    """Parse XML that declares no entities and nests at most MAX_XML_DEPTH deep."""
    try:
        root: Element = fromstring(data, forbid_dtd=False)
    except DefusedXmlException as exc:
        raise UnsupportedFile(
            f"refused {label}: its XML declares entities, which Dowse never expands "
            "(a billion-laughs bomb?)"
        ) from exc
    if nesting_depth(root) > MAX_XML_DEPTH:
        raise UnsupportedFile(
            f"refused {label}: its XML nests more than {MAX_XML_DEPTH} elements deep"
        )
    return root


def nesting_depth(root: Element, stop: int = MAX_XML_DEPTH + 1) -> int:
    """How deep elements nest below `root` (1 for a lone element), counted up to `stop`."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth >= stop:
            return deepest
        stack.extend((child, depth + 1) for child in element)
    return deepest
