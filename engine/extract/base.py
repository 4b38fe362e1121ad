"""What every extractor returns, and the registry that picks one by suffix or MIME type."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class ExtractError(Exception):
    """A known failure to read a file: corrupt, encrypted, unreadable. Recorded, never fatal."""


class UnsupportedFile(ExtractError):
    """The file is binary or of a type Dowse does not read; it is skipped with this reason."""


@dataclass(frozen=True)
class Heading:
    start: int  # character offset of the heading in Extracted.text
    level: int  # 1 = top level
    title: str


@dataclass(frozen=True)
class Extracted:
    """Plain text of a file plus its structure, in character offsets into `text`."""

    text: str
    kind: str  # the family that read it: "text", "markdown", "pdf", ...
    # Start offset of each page, in order; page N (1-based) starts at page_starts[N-1].
    # Empty for formats without pages.
    page_starts: tuple[int, ...] = ()
    headings: tuple[Heading, ...] = field(default_factory=tuple)
    # The passages' (start, end) spans when the extraction child also cut the text
    # (engine/ingest/read_child.py), so the indexing process need not tokenize it again.
    cut: tuple[tuple[int, int], ...] | None = None
    # With `cut`: each passage's word-piece ids where the child knew them (an array of
    # ints, or None), for the encoder to reuse (engine/ingest/token_ids.py).
    cut_ids: tuple[Any, ...] | None = None

    def page_at(self, offset: int) -> int | None:
        """1-based page holding the character at `offset`, or None for unpaged formats."""
        if not self.page_starts:
            return None
        page = 0
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i
            else:
                break
        return page + 1

    def heading_at(self, offset: int) -> str | None:
        """Title of the nearest heading at or before `offset`."""
        found: str | None = None
        for heading in self.headings:
            if heading.start <= offset:
                found = heading.title
            else:
                break
        return found


Extractor = Callable[[Path], Extracted]

_BY_SUFFIX: dict[str, Extractor] = {}
_BY_MIME: dict[str, Extractor] = {}


def register(
    *suffixes: str, mimes: tuple[str, ...] = ()
) -> Callable[[Extractor], Extractor]:
    """Register an extractor for file suffixes (with the dot, lower case) and MIME types."""

    def decorate(func: Extractor) -> Extractor:
        for suffix in suffixes:
            _BY_SUFFIX[suffix.lower()] = func
        for mime in mimes:
            _BY_MIME[mime] = func
        return func

    return decorate


def extractor_for_suffix(suffix: str) -> Extractor | None:
    return _BY_SUFFIX.get(suffix.lower())


def extractor_for_mime(mime: str) -> Extractor | None:
    return _BY_MIME.get(mime)


def supported_suffixes() -> frozenset[str]:
    return frozenset(_BY_SUFFIX)


# C0/C1 control characters other than tab, newline, vertical tab and form feed: never
# words, but they can sit between words, so they become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_NONCHARS = re.compile(r"[\ufffe\uffff]")
_TRAILING_SPACE = re.compile(r"[^\S\n]+$", re.MULTILINE)
_BLANK_RUNS = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalise newlines, blank out control characters, strip trailing spaces, cap blank runs."""
    # Office formats use vertical tab for a soft line break.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\v", "\n")
    text = _NONCHARS.sub("", _CONTROL.sub(" ", text))
    text = _TRAILING_SPACE.sub("", text)
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


class TextBuilder:
    """Joins cleaned blocks of text and records heading offsets as it goes."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._headings: list[Heading] = []

    def add(
        self, block: str, *, heading_level: int = 0, title: str = "", sep: str = "\n\n"
    ) -> int | None:
        """Append a block after `sep` and return its offset, or None if it holds no text.

        With heading_level > 0 the block is also a heading, titled `title` or by its own text.
        """
        block = clean_text(block)
        if not block.strip():
            return None
        if self._parts:
            self._append(sep)
        start = self._length
        if heading_level > 0:
            self._headings.append(Heading(start, heading_level, " ".join((title or block).split())))
        self._append(block)
        return start

    def add_extracted(self, part: Extracted, *, sep: str = "\n\n") -> None:
        """Append another extraction's text, carrying its headings at shifted offsets."""
        if not part.text.strip():
            return
        if self._parts:
            self._append(sep)
        shift = self._length
        self._headings.extend(Heading(h.start + shift, h.level, h.title) for h in part.headings)
        self._append(part.text)

    def build(self, kind: str, page_starts: tuple[int, ...] = ()) -> Extracted:
        return Extracted("".join(self._parts), kind, page_starts, tuple(self._headings))

    def _append(self, piece: str) -> None:
        self._parts.append(piece)
        self._length += len(piece)


def describe(exc: BaseException) -> str:
    """A one-line reason for an exception, short enough to show beside a file name."""
    lines = str(exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    return reason if len(reason) <= 160 else reason[:157] + "..."


@contextmanager
def reading(label: str) -> Iterator[None]:
    """Turn what a format library raises on a damaged file into ExtractError("corrupt ...")."""
    try:
        yield
    except (ExtractError, PermissionError, FileNotFoundError, IsADirectoryError):
        raise  # not the file's fault: extract_file reports these as unreadable
    except Exception as exc:
        # Format libraries raise anything (KeyError, AttributeError, lxml errors) on bad input.
        log.debug("corrupt %s", label, exc_info=True)
        raise ExtractError(f"corrupt {label}: {describe(exc)}") from exc
