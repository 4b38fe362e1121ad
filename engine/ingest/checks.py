"""Cheap checks before a file is read: its type, size and holes from stat, then a bounded hash.

Nothing here opens a file that is not a regular one (a named pipe would block the reader, a
device could be endless), and nothing reads a byte of a file that a limit rejects: a 60 GB
disk image is skipped by its size alone. The hash reads exactly the size stat reported, and
a file whose size, modification time or identity changes meanwhile is reported as changed,
so it is read again later instead of being stored half-written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

_MB = 1024 * 1024
# A file counts as sparse when fewer than half its bytes are data and the holes are big:
# a preallocated download or a VM image, never a document. Compressing file systems (ZFS,
# btrfs) also report few blocks for a big text file, so holes are confirmed with SEEK_HOLE.
SPARSE_MIN_HOLE_BYTES = 1 * _MB
# How many data extents are followed before the file is taken as not sparse.
_MAX_EXTENTS = 4096
_READ_BYTES = 1 * _MB

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


class FileProblem(Exception):
    """A file Dowse will not index, and why in words a person reads; `state` is how it is
    recorded: "skipped" (a limit or a kind of file Dowse does not read) or "failed"."""

    def __init__(self, reason: str, state: str = "skipped") -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state


class FileChangedError(Exception):
    """The file changed while it was read: it is read again later, never stored half-read."""


class FileVanishedError(Exception):
    """The file is gone (deleted or renamed since it was listed): dropped without a word."""


def kind_of(mode: int) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return None if stat.S_ISREG(mode) else "not a regular file"


def describe_os_error(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENAMETOOLONG:
        return "cannot read file: its name is too long"
    return f"cannot read file: {exc.strerror or type(exc).__name__}"


def stat_file(path: Path) -> os.stat_result:
    """stat through symlinks; FileVanishedError if it is gone, FileProblem if unreadable."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise FileProblem("a broken symbolic link") from None
        raise FileVanishedError(str(path)) from None
    except OSError as exc:
        raise FileProblem(describe_os_error(exc), "failed") from exc


def check_stat(path: Path, st: os.stat_result, max_bytes: int) -> None:
    """Refuse, from stat alone, what must not be opened or what a limit rejects."""
    kind = kind_of(st.st_mode)
    if kind is not None:
        raise FileProblem(f"not a regular file: {kind}")
    if st.st_size > max_bytes:
        raise FileProblem(
            f"file too large: {st.st_size / _MB:.1f} MB > {max_bytes / _MB:g} MB limit"
        )
    data = data_bytes(path, st)
    if data is not None:
        raise FileProblem(
            f"sparse file: {st.st_size / _MB:.1f} MB with only {data / _MB:.1f} MB of data "
            "(a disk image or an unfinished download?)"
        )


def data_bytes(path: Path, st: os.stat_result) -> int | None:
    """How many bytes of a sparse file are data, or None if it is not sparse."""
    allocated = getattr(st, "st_blocks", st.st_size // 512 + 1) * 512
    if st.st_size - allocated < SPARSE_MIN_HOLE_BYTES or not hasattr(os, "SEEK_HOLE"):
        return None
    try:
        fd = _open_regular(path, st)
    except (OSError, FileChangedError):
        return None  # the hash, next, says what is wrong with it
    try:
        data, offset = 0, 0
        for _ in range(_MAX_EXTENTS):
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:
                    break  # no data after offset
                return None
            end = os.lseek(fd, start, os.SEEK_HOLE)
            data += end - start
            offset = end
            if offset >= st.st_size:
                break
        else:
            return None  # thousands of extents: fragmented, not a disk image
    except OSError:
        return None
    finally:
        os.close(fd)
    holes = st.st_size - data
    return data if holes >= SPARSE_MIN_HOLE_BYTES and data * 2 < st.st_size else None


def bounded_digest(path: Path, st: os.stat_result) -> str:
    """The content hash of a file as stat saw it, reading at most st_size + 1 bytes.

    FileChangedError if the file grows, shrinks, is replaced or is modified while read.
    """
    fd = _open_regular(path, st)
    try:
        digest = hashlib.blake2b()
        left = st.st_size + 1  # one byte more than stat said, to notice a file that grew
        while left > 0:
            block = os.read(fd, min(_READ_BYTES, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
        if left != 1:
            raise FileChangedError(f"{path} changed size while it was read")
        if not same_file(st, os.fstat(fd)):
            raise FileChangedError(f"{path} changed while it was read")
    finally:
        os.close(fd)
    return digest.hexdigest()[:32]


def same_file(before: os.stat_result, after: os.stat_result) -> bool:
    """Whether two stats show the same file with the same content, as far as stat can tell."""
    return (
        before.st_dev == after.st_dev
        and before.st_ino == after.st_ino
        and before.st_size == after.st_size
        and before.st_mtime_ns == after.st_mtime_ns
    )


def _open_regular(path: Path, st: os.stat_result) -> int:
    """Open for reading without blocking (a FIFO swapped in after stat) and check it is still
    the regular file stat saw."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileVanishedError(str(path)) from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise FileChangedError(f"{path} was replaced while it was read")
    except BaseException:
        os.close(fd)
        raise
    return fd
