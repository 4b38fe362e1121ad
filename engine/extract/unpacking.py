"""Unpacking within caps, shared by compressed files and archives: a bomb costs no more than
its cap, and what comes out lands in a private temporary folder, never beside the original.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

from engine.extract import text
from engine.extract.base import Extracted, UnsupportedFile, extractor_for_suffix

_MB = 1024 * 1024
# Each returns a binary file object (GzipFile, BZ2File, LZMAFile) that unpacks as it reads.
OPENERS: dict[str, Callable[[Path], Any]] = {
    ".gz": lambda p: gzip.open(p, "rb"),
    ".bz2": lambda p: bz2.open(p, "rb"),
    ".xz": lambda p: lzma.open(p, "rb"),
}
# A compressed document is read only up to this size unpacked (the size limit for files).
MAX_INFLATED_BYTES = 64 * _MB
# Text compresses up to about 10:1, logs up to 50:1; a gzip bomb unpacks 1,000 times over.
MAX_RATIO = 200
RATIO_MIN_BYTES = 4 * _MB  # small files may compress far: a run of blank lines
_CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def copy_bounded(
    source: Readable, target: IO[bytes], packed: int, label: str,
    limit: int = MAX_INFLATED_BYTES,
) -> int:
    """Copy what `source` unpacks into `target`, refusing it past the size or ratio cap."""
    written = 0
    while chunk := source.read(_CHUNK):
        written += len(chunk)
        if written > limit:
            raise UnsupportedFile(
                f"refused {label}: it unpacks to over {limit / _MB:g} MB (a decompression bomb?)"
            )
        if written > RATIO_MIN_BYTES and written > MAX_RATIO * max(packed, 1):
            raise UnsupportedFile(
                f"refused {label}: it unpacks over {MAX_RATIO} times its packed size "
                "(a decompression bomb?)"
            )
        target.write(chunk)
    return written


@contextmanager
def private_folder() -> Iterator[Path]:
    """A temporary folder only this user can read (mode 0700), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="dowse-unpacked-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_inner(path: Path) -> Extracted:
    """An unpacked document, read by the extractor for its name, or as text if it has none."""
    extractor = extractor_for_suffix(path.suffix)
    if extractor is not None:
        return extractor(path)
    with path.open("rb") as handle:
        if text.looks_binary(handle.read(text.SNIFF_BYTES)):
            raise UnsupportedFile(f"binary file {path.name}")
    return text.extract_plain(path)
