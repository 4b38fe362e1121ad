"""Archives (zip, tar, tar.gz/bz2/xz, 7z): each supported document inside becomes its own entry.

Every member counts against the archive's caps (members, bytes unpacked, ratio); each is
unpacked alone into a private temporary folder and read by its own type's extractor. An
archive inside an archive is not opened: that member is listed with the reason. The archive's
own entry holds the list of its members' names; the members come back with it, each with a
digest (the format's own signature of its bytes where it has one, engine/extract/
archive_readers.py), and the indexer records each as `archive.zip › folder/member.pdf`
(engine/ingest/archive_members.py). A member whose digest matches the one it was recorded
with (known_digests) is not even unpacked: a changed archive reads only its changed members.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from engine.extract.archive_readers import MAX_MEMBER_BYTES, Member, check_members, open_archive
from engine.extract.base import (
    Extracted,
    ExtractError,
    UnsupportedFile,
    clean_text,
    register,
)
from engine.extract.regions import OcrExtracted
from engine.extract.unpacking import OPENERS, copy_bounded, private_folder, read_inner

log = logging.getLogger(__name__)

# Tar archives; compressed (`.tar.gz`) they come through engine/extract/compressed.py.
TAR_SUFFIXES = (".tar", ".tgz", ".tbz2", ".txz")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tbz2", ".txz", ".7z", ".rar", ".jar", ".war")
NESTED = (*ARCHIVE_SUFFIXES, *OPENERS)
SEPARATOR = " › "  # between an archive's path and a member's name, as results show it
# Set in the extraction child for one archive (known_digests): member name -> recorded digest.
_KNOWN: ContextVar[Mapping[str, str] | None] = ContextVar("known_member_digests", default=None)


def member_label(archive: str, member: str) -> str:
    """How a member is named to a person: `archive.zip › folder/member.pdf`."""
    return f"{archive}{SEPARATOR}{member}"


@contextmanager
def known_digests(digests: Mapping[str, str]) -> Iterator[None]:
    """While extracting an archive, the digests its members were recorded with: a member
    whose signature still matches is listed as unchanged and not unpacked or read."""
    token = _KNOWN.set(digests)
    try:
        yield
    finally:
        _KNOWN.reset(token)


def unpack(member: Member, stream: IO[bytes], folder: Path) -> tuple[Path, str]:
    """One member alone in `folder`, under its own base name, within the size caps; with its
    digest: the format's signature of its bytes, or else a hash of them."""
    target = folder / (os.path.basename(member.name) or "member")
    digest = _Hashing(stream)
    with target.open("wb") as out:
        copy_bounded(digest, out, member.packed, member.name, MAX_MEMBER_BYTES)
    return target, member_digest(member) or "member:" + digest.hexdigest()


def member_digest(member: Member) -> str:
    """The digest a member is recorded with, from its listing alone; "" where the format
    records nothing of its bytes. Never equal to a whole file's digest, so a member is never
    taken for a moved file."""
    return "member:" + member.signature if member.signature else ""


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
    """One member as read: its text, or why it was not (state "skipped" or "failed"), or
    "unchanged" (no text) when its digest is the one it was recorded with."""

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


@register(*ARCHIVE_SUFFIXES[:6],
          mimes=("application/zip", "application/x-tar", "application/x-7z-compressed"))
def extract_archive(path: Path) -> ArchiveExtracted:
    archive = open_archive(path)
    known = _KNOWN.get() or {}
    try:
        members = archive.members()
        check_members(members, path.name, path.stat().st_size)
        done: dict[str, MemberDoc] = {
            m.name: MemberDoc(m.name, m.size, "", None, "skipped", reason)
            for m in members if (reason := _readable(m)) is not None
        }
        for m in members:
            digest = member_digest(m)
            if m.name not in done and digest and known.get(m.name) == digest:
                done[m.name] = MemberDoc(m.name, m.size, digest, None, "unchanged")
        with private_folder() as folder:
            for member, stream in archive.each([m for m in members if m.name not in done]):
                done[member.name] = _read_member(member, stream, folder)
    finally:
        archive.close()
    listing = "\n".join(sorted(done))
    if not any(m.doc is not None or m.state == "unchanged" for m in done.values()):
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
    opened = open_archive(Path(archive))
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


@dataclass(frozen=True)
class UnpackedMember(Extracted):
    """A member unpacked for Open; an Extracted (with no text) so that it comes back through
    the child's pipe the way extractions do."""

    file: str = ""


def unpack_for_open(request: tuple[str, str], max_bytes: int) -> UnpackedMember:
    """A child's target: the member an entry names, unpacked into the folder given, read-only
    (edits to a copy would be lost)."""
    entry, folder = request
    target = unpack_member_to(entry, Path(folder))
    os.chmod(target, 0o400)
    return UnpackedMember("", "member", file=str(target))
