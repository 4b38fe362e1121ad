"""Where OCR read each word on its page, carried with the text and packed small for the store.

An OCR extraction carries one Region per word, in offsets of its text. The store keeps, with
each passage, the regions of the words inside it (chunks.boxes): offsets relative to the
passage start and edges as fractions of the page, packed as 16 bytes a word, so a preview can
mark the matched words on the picture without reading the page again.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.extract.base import Extracted

# Per word: start and end (uint32, relative to the passage), x0, y0, x1, y1 (uint16, in
# 1/65535ths of the page's width or height).
_WORD = struct.Struct("<IIHHHH")
_SCALE = 65535


@dataclass(frozen=True)
class Region:
    start: int  # character offsets into the text the region belongs to
    end: int
    x0: float  # edges as fractions (0..1) of the page's width and height
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class OcrExtracted(Extracted):
    """An extraction with pages that are pictures: the words OCR read, and how far it got."""

    regions: tuple[Region, ...] = field(default_factory=tuple)  # sorted by start
    ocr_pages: int = 0  # pages that are pictures and need OCR
    ocr_done: int = 0  # of those, how many are read (now or from the cache)
    ocr_fresh: int = 0  # of those, how many were read in this run, not taken from the cache

    @property
    def ocr_complete(self) -> bool:
        return self.ocr_done >= self.ocr_pages


def pack(regions: Sequence[Region], start: int, end: int) -> bytes | None:
    """The regions of words inside [start, end), packed relative to `start`; None if none."""
    starts = [r.start for r in regions]
    first = bisect.bisect_left(starts, start)
    out = bytearray()
    for region in regions[first:]:
        if region.start >= end:
            break
        if region.end > end:
            continue
        out += _WORD.pack(
            region.start - start, region.end - start,
            *(round(min(max(v, 0.0), 1.0) * _SCALE)
              for v in (region.x0, region.y0, region.x1, region.y1)),
        )
    return bytes(out) or None


def unpack(blob: bytes | None, start: int = 0) -> list[Region]:
    """The regions packed by pack(), with offsets shifted back by `start`."""
    if not blob:
        return []
    regions = []
    for a, b, *edges in _WORD.iter_unpack(blob[: len(blob) - len(blob) % _WORD.size]):
        x0, y0, x1, y1 = (v / _SCALE for v in edges)
        regions.append(Region(a + start, b + start, x0, y0, x1, y1))
    return regions


def passage_boxes(doc: Extracted, start: int, end: int) -> bytes | None:
    """What the store keeps for a passage of `doc`: its words' regions, if OCR read them."""
    if isinstance(doc, OcrExtracted) and doc.regions:
        return pack(doc.regions, start, end)
    return None
