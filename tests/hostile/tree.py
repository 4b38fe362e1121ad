"""What the hostile suite needs besides the files: a byte-for-byte picture of a tree, and a
file that grows while Dowse reads it."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from pathlib import Path
from types import TracebackType

# Files above this are pictured by their size, mtime and first and last megabyte:
# hashing the 60 GB sparse file whole would read 60 GB of holes.
WHOLE_HASH_BYTES = 64 * 1024 * 1024
_EDGE = 1024 * 1024
# How often GrowingFile appends a line (about 50 bytes).
INTERVAL_S = 0.003


def snapshot(root: Path, skip: set[Path] = frozenset()) -> dict[bytes, str]:  # type: ignore[assignment]
    """Every entry under `root` (names as bytes) -> its type, mode, size, mtime and content
    hash, or its link target; symlinks are never followed."""
    skipped = {os.fsencode(p) for p in skip}
    base = os.fsencode(root)
    picture: dict[bytes, str] = {}
    for folder, dirs, files in os.walk(base, followlinks=False):
        for name in sorted(dirs + files):
            path = os.path.join(folder, name)
            if path in skipped:
                continue
            picture[os.path.relpath(path, base)] = _describe(path)
    return picture


def _describe(path: bytes) -> str:
    st = os.lstat(path)
    head = f"{stat.S_IFMT(st.st_mode):o} {stat.S_IMODE(st.st_mode):o} {st.st_mtime_ns}"
    if stat.S_ISLNK(st.st_mode):
        return f"{head} -> {os.readlink(path)!r}"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return f"{head} dev {st.st_rdev}"
    if not stat.S_ISREG(st.st_mode):
        return head
    digest = hashlib.blake2b()
    # Mode 000 stops a non-root reader; the suite restores it only at the end.
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o400 == 0 and os.geteuid() != 0:
        return f"{head} {st.st_size} unreadable"
    with open(path, "rb") as handle:
        if st.st_size <= WHOLE_HASH_BYTES:
            for block in iter(lambda: handle.read(_EDGE), b""):
                digest.update(block)
        else:
            digest.update(handle.read(_EDGE))
            handle.seek(st.st_size - _EDGE)
            digest.update(handle.read(_EDGE))
    # Not st_blocks: a file system allocates blocks of a fresh file late (ext4's delayed
    # allocation), so the count changes with nobody writing.
    return f"{head} {st.st_size} {digest.hexdigest()}"


class GrowingFile:
    """Appends a line to a file every few milliseconds, from a thread, until stopped: far more
    often than Dowse takes to stat, hash, extract, chunk and stat it again.

    With `seconds`, leaving the `with` block waits until the file has grown that long; `size`
    is the file's size once the writer stopped.
    """

    def __init__(self, path: Path, seconds: float | None = None) -> None:
        self.path = path
        self.seconds = seconds
        self.size = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._grow, daemon=True)
        self._started = 0.0

    def __enter__(self) -> GrowingFile:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.seconds is not None and exc is None:
            time.sleep(max(0.0, self._started + self.seconds - time.monotonic()))
        self._stop.set()
        self._thread.join()
        self.size = self.path.stat().st_size

    def _grow(self) -> None:
        n = 0
        with open(self.path, "a") as handle:
            while not self._stop.is_set():
                handle.write(f"appended {n}: a request came in and was answered\n")
                handle.flush()
                n += 1
                time.sleep(INTERVAL_S)
