"""One document compressed with gzip, bzip2 or xz (`NEWS.gz`, `manual.tex.gz`): read as its type.

The document is unpacked into a private temporary folder under its own name, within a size
and a ratio cap (engine/extract/unpacking.py), so a decompression bomb is refused before it
costs more than the cap, and then read by the extractor for its inner name (`manual.tex`), or
as text when it has none. A compressed tar (`.tar.gz`) is an archive (engine/extract/members.py).
"""

from __future__ import annotations

import gzip
import lzma
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.extract.base import Extracted, ExtractError, UnsupportedFile, register
from engine.extract.members import TAR_SUFFIXES, extract_archive
from engine.extract.unpacking import OPENERS, copy_bounded, private_folder, read_inner

_DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, ValueError, gzip.BadGzipFile)


def inner_name(path: Path) -> str:
    """The name of the document inside: `manual.tex` for `manual.tex.gz`."""
    return path.name[: -len(path.suffix)] or "document"


def is_compressed(path: Path) -> bool:
    return path.suffix.lower() in OPENERS


@contextmanager
def inflated(path: Path) -> Iterator[Path]:
    """The document inside a compressed file, unpacked under its own name for the duration."""
    name = inner_name(path)
    if Path(name).suffix.lower() in OPENERS:
        raise UnsupportedFile(f"refused {path.name}: compressed twice (nested)")
    packed = path.stat().st_size
    with private_folder() as folder:
        target = folder / os.path.basename(name)
        try:
            with OPENERS[path.suffix.lower()](path) as source, target.open("wb") as out:
                copy_bounded(source, out, packed, path.name)
        except _DECOMPRESS_ERRORS as exc:
            if isinstance(exc, PermissionError | FileNotFoundError):
                raise
            raise ExtractError(f"corrupt {path.suffix[1:]} file: {exc}") from exc
        yield target


@register(*OPENERS, mimes=("application/gzip", "application/x-bzip2", "application/x-xz"))
def extract_compressed(path: Path) -> Extracted:
    if inner_name(path).lower().endswith(TAR_SUFFIXES):
        return extract_archive(path)
    with inflated(path) as inner:
        return read_inner(inner)
