"""Archives (zip, tar, tar.gz/bz2/xz): each supported document inside becomes its own entry.

Every member counts against the archive's caps (members, bytes unpacked, ratio); each is
unpacked alone into a private temporary folder and read by its own type's extractor. An
archive inside an archive is not opened: that member is listed with the reason. The archive's
own entry holds the list of its members' names; the members come back with it, each with a
digest of its bytes, and the indexer records each as `archive.zip › folder/member.pdf`
(engine/ingest/archive_members.py), so only members whose bytes changed are read again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from engine.extract.archive import MAX_RATIO, MAX_UNPACKED_BYTES, RATIO_MIN_BYTES, check_declared
from engine.extract.base import (
    Extracted,
    ExtractError,
    UnsupportedFile,
    clean_text,
    describe,
    register,
)
from engine.extract.regions import OcrExtracted
from engine.extract.unpacking import OPENERS, copy_bounded, private_folder, read_inner

log = logging.getLogger(__name__)

_MB = 1024 * 1024
MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 64 * _MB
# Tar archives; compressed (`.tar.gz`) they come through engine/extract/compressed.py.
TAR_SUFFIXES = (".tar", ".tgz", ".tbz2", ".txz")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tbz2", ".txz", ".7z", ".rar", ".jar", ".war")
NESTED = (*ARCHIVE_SUFFIXES, *OPENERS)
SEPARATOR = " › "  # between an archive's path and a member's name, as results show it


@dataclass(frozen=True)
class Member:
    name: str  # as stored in the archive, "/"-separated
    size: int  # unpacked, as declared
    packed: int


def member_label(archive: str, member: str) -> str:
    """How a member is named to a person: `archive.zip › folder/member.pdf`."""
    return f"{archive}{SEPARATOR}{member}"


class _Archive:
    """A zip or a tar, read the same way: list the members, open one as a byte stream."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._tar: tarfile.TarFile | None = None
        try:
            # By its first bytes: is_zipfile() also says yes to a tar that holds a DOCX,
            # whose zip directory it finds near the end.
            with path.open("rb") as handle:
                is_zip = handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
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
            return [Member(i.filename, i.file_size, i.compress_size)
                    for i in self._zip.infolist() if not i.is_dir()]
        assert self._tar is not None
        found: list[Member] = []
        total = 0
        for info in self._tar:
            if info.isfile():
                found.append(Member(info.name, info.size, info.size))
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


def check_members(members: list[Member], label: str, packed_total: int) -> None:
    """Refuse an archive whose declared contents exceed the caps: a bomb costs no more."""
    check_declared([(m.name, m.size, m.packed) for m in members], label, MAX_MEMBERS)
    total = sum(m.size for m in members)
    if packed_total and total > RATIO_MIN_BYTES and total > MAX_RATIO * 10 * packed_total:
        raise UnsupportedFile(f"refused {label}: it unpacks {total / packed_total:,.0f} times "
                              "its size (a zip bomb?)")


def unpack(member: Member, stream: IO[bytes], folder: Path) -> tuple[Path, str]:
    """One member alone in `folder`, under its own base name, within the size caps; with the
    digest of its bytes."""
    target = folder / (os.path.basename(member.name) or "member")
    digest = _Hashing(stream)
    with target.open("wb") as out:
        copy_bounded(digest, out, member.packed, member.name, MAX_MEMBER_BYTES)
    # Never equal to a whole file's digest, so a member is never taken for a moved file.
    return target, "member:" + digest.hexdigest()


class _Hashing:
    """A stream that hashes what is read through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._hash = hashlib.blake2b(digest_size=16)

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class MemberDoc:
    """One member as read: its text, or why it was not (state "skipped" or "failed")."""

    name: str
    size: int
    digest: str
    doc: Extracted | None
    state: str = "indexed"
    reason: str = ""


@dataclass(frozen=True)
class ArchiveExtracted(Extracted):
    """An archive: its text is the list of its members' names; `members` holds each read."""

    members: tuple[MemberDoc, ...] = ()


def archive_of(path: str) -> str | None:
    """The archive a member's entry path names (`a.zip` for `a.zip › b.pdf`), else None."""
    archive, sep, _ = path.partition(SEPARATOR)
    if sep and archive.lower().endswith((*ARCHIVE_SUFFIXES, *OPENERS)):
        return archive
    return None


def _readable(member: Member) -> str | None:
    """Why a member is not read, or None when it is."""
    name = PurePosixPath(member.name)
    if any(part == ".." for part in name.parts) or name.is_absolute():
        return "a path outside the archive"
    if name.suffix.lower() in NESTED or name.name.lower().endswith(".tar.gz"):
        return "an archive inside an archive is not opened"
    if member.size > MAX_MEMBER_BYTES:
        return "too large"
    return None


@register(*ARCHIVE_SUFFIXES[:5], mimes=("application/zip", "application/x-tar"))
def extract_archive(path: Path) -> ArchiveExtracted:
    archive = _Archive(path)
    try:
        members = archive.members()
        check_members(members, path.name, path.stat().st_size)
        done: dict[str, MemberDoc] = {
            m.name: MemberDoc(m.name, m.size, "", None, "skipped", reason)
            for m in members if (reason := _readable(m)) is not None
        }
        with private_folder() as folder:
            for member, stream in archive.each([m for m in members if m.name not in done]):
                done[member.name] = _read_member(member, stream, folder)
    finally:
        archive.close()
    listing = "\n".join(sorted(done))
    if not any(m.doc is not None for m in done.values()):
        why = next((f"{m.name}: {m.reason}" for m in done.values()), "it is empty")
        raise UnsupportedFile(f"nothing readable in the archive: {why}")
    return ArchiveExtracted(
        clean_text(listing), "archive", members=tuple(done[n] for n in sorted(done))
    )


def _read_member(member: Member, stream: IO[bytes], folder: Path) -> MemberDoc:
    try:
        inner, digest = unpack(member, stream, folder)
        doc = read_inner(inner)
        inner.unlink()
    except UnsupportedFile as exc:
        return MemberDoc(member.name, member.size, "", None, "skipped", str(exc))
    except ExtractError as exc:
        return MemberDoc(member.name, member.size, "", None, "failed", str(exc))
    if isinstance(doc, OcrExtracted) and doc.ocr_pages:
        reason = "pictures inside archives are not read yet"
        return MemberDoc(member.name, member.size, digest, None, "skipped", reason)
    if not doc.text.strip():
        return MemberDoc(member.name, member.size, digest, None, "skipped", "no text")
    return MemberDoc(member.name, member.size, digest, doc)


def unpack_member_to(entry: str, folder: Path) -> Path:
    """The member an entry names (`a.zip › b/c.pdf`) unpacked into `folder`, which the caller
    owns and removes (a private temporary folder, never beside the archive): what Open and
    a page preview of a member need, within the same caps as indexing."""
    archive = archive_of(entry)
    if archive is None:
        raise ExtractError(f"not a member of an archive: {entry}")
    name = entry.partition(SEPARATOR)[2]
    opened = _Archive(Path(archive))
    try:
        wanted = [m for m in opened.members() if m.name == name]
        if not wanted:
            raise ExtractError(f"{name} is no longer in {archive}")
        reason = _readable(wanted[0])
        if reason is not None:
            raise UnsupportedFile(f"{name}: {reason}")
        for member, stream in opened.each(wanted):
            return unpack(member, stream, folder)[0]
    finally:
        opened.close()
    raise ExtractError(f"{name} could not be read from {archive}")
