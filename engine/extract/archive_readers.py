"""Zip, tar and 7z read the same way: list the members as declared, each with a cheap signature
of its bytes, and hand back a byte stream per member, every one within the archives' caps.

The signature is what the format records beside each member (zip and 7z a CRC-32 and a size,
tar a size and a modification time), so a member that did not change is known without
unpacking it (engine/extract/members.py). 7z is read by py7zr; a solid 7z is unpacked in one
pass into a private folder, each member bounded as it is written.
"""

from __future__ import annotations

import lzma
import os
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from engine.extract.archive import MAX_RATIO, MAX_UNPACKED_BYTES, RATIO_MIN_BYTES, check_declared
from engine.extract.base import ExtractError, UnsupportedFile, describe
from engine.extract.unpacking import private_folder

_MB = 1024 * 1024
MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 64 * _MB
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"


@dataclass(frozen=True)
class Member:
    name: str  # as stored in the archive, "/"-separated
    size: int  # unpacked, as declared
    packed: int
    signature: str = ""  # what the format records of its bytes; "" where it records nothing


def check_members(members: list[Member], label: str, packed_total: int) -> None:
    """Refuse an archive whose declared contents exceed the caps: a bomb costs no more."""
    check_declared([(m.name, m.size, m.packed) for m in members], label, MAX_MEMBERS)
    total = sum(m.size for m in members)
    if packed_total and total > RATIO_MIN_BYTES and total > MAX_RATIO * 10 * packed_total:
        raise UnsupportedFile(f"refused {label}: it unpacks {total / packed_total:,.0f} times "
                              "its size (a zip bomb?)")


def open_archive(path: Path) -> ArchiveReader:
    """A reader for the archive at `path`, chosen by its first bytes: is_zipfile() also says
    yes to a tar that holds a DOCX, whose zip directory it finds near the end."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        if isinstance(exc, PermissionError | FileNotFoundError):
            raise
        raise ExtractError(f"cannot read archive: {describe(exc)}") from exc
    if magic == SEVEN_ZIP_MAGIC:
        return SevenZipReader(path)
    return ArchiveReader(path, is_zip=magic[:4] in (b"PK\x03\x04", b"PK\x05\x06"))


class ArchiveReader:
    """A zip or a tar: list the members, open each as a byte stream."""

    def __init__(self, path: Path, is_zip: bool = False) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        try:
            if is_zip:
                self._zip = zipfile.ZipFile(path)
            else:
                self._tar = tarfile.open(path, "r:*")
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError) as exc:
            if isinstance(exc, PermissionError | FileNotFoundError):
                raise
            raise ExtractError(f"corrupt archive: {describe(exc)}") from exc

    def members(self) -> list[Member]:
        """Every file member, as declared. A tar is listed while the caps are checked, so a
        compressed bomb is refused before its data is unpacked past the member it is on."""
        if self._zip is not None:
            return [Member(i.filename, i.file_size, i.compress_size,
                           f"zip:{i.CRC:08x}:{i.file_size}")
                    for i in self._zip.infolist() if not i.is_dir()]
        assert self._tar is not None
        found: list[Member] = []
        total = 0
        for info in self._tar:
            if info.isfile():
                found.append(Member(info.name, info.size, info.size,
                                    f"tar:{info.size}:{int(info.mtime)}"))
                total += info.size
                if len(found) > MAX_MEMBERS or total > MAX_UNPACKED_BYTES:
                    check_members(found, self.path.name, 0)
        return found

    def each(self, members: list[Member]) -> Iterator[tuple[Member, IO[bytes]]]:
        """Each member with a stream of its bytes, in the archive's own order (a compressed
        tar is unpacked once, front to back)."""
        wanted = {m.name: m for m in members}
        if self._zip is not None:
            for member in members:
                with self._zip.open(member.name) as stream:
                    yield member, stream
            return
        assert self._tar is not None
        for info in self._tar:
            listed = wanted.get(info.name)
            data = self._tar.extractfile(info) if listed is not None else None
            if listed is not None and data is not None:
                with data:
                    yield listed, data

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
        if self._tar is not None:
            self._tar.close()


class SevenZipReader(ArchiveReader):
    """A 7z, through py7zr. An encrypted one is refused: Dowse never asks for passwords."""

    def __init__(self, path: Path) -> None:
        import py7zr

        self.path = path
        self._zip, self._tar = None, None
        self._packed = max(path.stat().st_size, 1)
        try:
            self._file = py7zr.SevenZipFile(path, "r")
        except (py7zr.Bad7zFile, py7zr.exceptions.ArchiveError, OSError, EOFError, ValueError,
                lzma.LZMAError, KeyError, IndexError) as exc:
            if isinstance(exc, PermissionError | FileNotFoundError):
                raise
            raise ExtractError(f"corrupt 7z archive: {describe(exc)}") from exc
        if self._file.needs_password():
            self._file.close()
            raise UnsupportedFile("encrypted 7z archive (Dowse never asks for passwords)")

    def members(self) -> list[Member]:
        # A solid archive packs its members together: only the whole has a packed size.
        return [Member(i.filename, i.uncompressed, i.compressed or self._packed,
                       f"7z:{i.crc32:08x}:{i.uncompressed}" if i.crc32 is not None else "")
                for i in self._file.list() if not i.is_directory]

    def each(self, members: list[Member]) -> Iterator[tuple[Member, IO[bytes]]]:
        if not members:
            return
        import py7zr

        with private_folder() as folder:
            factory = _BoundedFactory(folder, {m.name for m in members})
            try:
                # py7zr is imported only when a 7z is met: _BoundedFactory is its WriterFactory.
                self._file.extract(targets=[m.name for m in members], factory=cast(Any, factory))
            except (py7zr.exceptions.ArchiveError, lzma.LZMAError, EOFError, ValueError,
                    KeyError, IndexError) as exc:
                raise ExtractError(f"corrupt 7z archive: {describe(exc)}") from exc
            finally:
                factory.close_all()
            for member in members:
                target = factory.files.get(member.name)
                if target is not None:
                    with target.open("rb") as stream:
                        yield member, stream
                    target.unlink()

    def close(self) -> None:
        self._file.close()


class _BoundedFactory:
    """py7zr's WriterFactory: each member into its own numbered file, within the caps."""

    def __init__(self, folder: Path, wanted: set[str]) -> None:
        self.folder = folder
        self.wanted = wanted
        self.files: dict[str, Path] = {}
        self.written = 0
        self._open: list[_BoundedWriter] = []

    def create(self, filename: str) -> _BoundedWriter:
        # Numbered, never the member's own name: a name with "../" cannot leave the folder.
        target = self.folder / str(len(self.files))
        if filename in self.wanted:
            self.files[filename] = target
        writer = _BoundedWriter(self, filename, target)
        self._open.append(writer)
        return writer

    def close_all(self) -> None:
        for writer in self._open:
            writer.close()


class _BoundedWriter:
    """py7zr's Py7zIO over one file; refuses a member past MAX_MEMBER_BYTES or the archive
    past MAX_UNPACKED_BYTES (a header can lie about sizes; the bytes cannot)."""

    def __init__(self, factory: _BoundedFactory, name: str, target: Path) -> None:
        self._factory = factory
        self._name = name
        self._size = 0
        self._out: IO[bytes] | None = target.open("wb")
        os.chmod(target, 0o600)

    def write(self, data: Any) -> int:
        self._size += len(data)
        self._factory.written += len(data)
        if self._size > MAX_MEMBER_BYTES or self._factory.written > MAX_UNPACKED_BYTES:
            raise UnsupportedFile(f"refused {self._name}: it unpacks past its limit "
                                  "(a decompression bomb?)")
        if self._out is not None:
            self._out.write(data)
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._size

    def flush(self) -> None:
        if self._out is not None:
            self._out.flush()

    def size(self) -> int:
        return self._size

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
