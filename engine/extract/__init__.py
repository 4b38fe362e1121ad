"""Turn a supported file into plain text with page and heading offsets: the first pipeline stage."""

from __future__ import annotations

import logging
import mimetypes
import stat
from pathlib import Path

# Imported for their side effect: each module registers its extractors.
from engine.extract import (  # noqa: F401
    compressed,
    epub,
    html,
    images,
    mail,
    members,
    odt,
    office,
    pdf,
    text,
)
from engine.extract.base import (
    Extracted,
    ExtractError,
    Extractor,
    Heading,
    UnsupportedFile,
    describe,
    extractor_for_mime,
    extractor_for_suffix,
    supported_suffixes,
)
from engine.extract.regions import passage_boxes

__all__ = [
    "Extracted",
    "ExtractError",
    "Heading",
    "UnsupportedFile",
    "extract_file",
    "passage_boxes",
    "supported_suffixes",
]

log = logging.getLogger(__name__)

_MB = 1024 * 1024


def _sniff_text(path: Path) -> Extracted:
    """Read a file of unknown type as plain text if it decodes as text, else call it binary."""
    suffix = path.suffix.lower()
    rejection = UnsupportedFile(f"unsupported file type {suffix}" if suffix else "binary file")
    with path.open("rb") as handle:
        if text.looks_binary(handle.read(text.SNIFF_BYTES)):
            raise rejection
    try:
        return text.extract_plain(path)
    except UnsupportedFile:
        raise rejection from None


def _choose(path: Path) -> Extractor:
    found = extractor_for_suffix(path.suffix)
    if found is None:
        mime, _ = mimetypes.guess_type(path.name, strict=False)
        found = extractor_for_mime(mime) if mime else None
    return found or _sniff_text


def extract_file(path: Path, max_bytes: int) -> Extracted:
    """Text and structure of `path`; ExtractError (or UnsupportedFile) says why not.

    The text is at most `max_bytes` characters: a small archive that unpacks to more than
    the file-size limit allows is refused, not indexed in part.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise ExtractError(f"cannot read file: {exc.strerror or describe(exc)}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedFile("not a regular file")  # never open a pipe or a device
    size = st.st_size
    if size > max_bytes:
        raise UnsupportedFile(f"file too large: {size / _MB:.1f} MB > {max_bytes / _MB:g} MB limit")
    extractor = _choose(path)
    try:
        doc = extractor(path)
    except ExtractError:
        if size == 0:
            # An empty DOCX or PDF is not corrupt, only empty; an empty text file is text.
            raise UnsupportedFile("empty file") from None
        raise
    except MemoryError:
        raise  # the extraction child says so, with its limit
    except OSError as exc:
        raise ExtractError(f"cannot read file: {exc.strerror or describe(exc)}") from exc
    except Exception as exc:
        # Not a known failure: log the traceback so the bug can be found, but never let one
        # file stop the batch.
        log.exception("unexpected error extracting %s", path)
        raise ExtractError(f"could not read file: {describe(exc)}") from exc
    if len(doc.text) > max_bytes:
        raise UnsupportedFile(
            f"too much text: {len(doc.text) / _MB:.1f} million characters > the "
            f"{max_bytes / _MB:g} MB limit"
        )
    return doc
