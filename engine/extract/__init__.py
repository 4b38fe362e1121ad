"""Turn a supported file into plain text with page and heading offsets: the first pipeline stage."""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path

# Imported for their side effect: each module registers its extractors.
from engine.extract import epub, html, mail, odt, office, pdf, text  # noqa: F401
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

__all__ = [
    "Extracted",
    "ExtractError",
    "Heading",
    "UnsupportedFile",
    "extract_file",
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
    """Text and structure of `path`; ExtractError (or UnsupportedFile) says why not."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ExtractError(f"cannot read file: {exc.strerror or describe(exc)}") from exc
    if size > max_bytes:
        raise UnsupportedFile(f"file too large: {size / _MB:.1f} MB > {max_bytes / _MB:g} MB limit")
    extractor = _choose(path)
    try:
        return extractor(path)
    except ExtractError:
        raise
    except OSError as exc:
        raise ExtractError(f"cannot read file: {exc.strerror or describe(exc)}") from exc
    except Exception as exc:
        # Not a known failure: log the traceback so the bug can be found, but never let one
        # file stop the batch.
        log.exception("unexpected error extracting %s", path)
        raise ExtractError(f"could not read file: {describe(exc)}") from exc
