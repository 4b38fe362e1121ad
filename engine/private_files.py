"""Files and folders only their owner can read: the modes of everything Dowse writes.

The index is a copy of a person's files, so every file Dowse writes is 0600 and every folder
0700, whatever the umask: the process umask is set to 0077 at start (engine.cli.main), files
are created with explicit modes, and folders found with looser modes (a data dir copied from
a backup, say) are tightened when they are opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
PRIVATE_UMASK = 0o077


def restrict_umask() -> None:
    """Make everything this process creates from now on private: files the code forgets to
    give a mode (SQLite's WAL and -shm, a log rotated, a child's output) included."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700, and make it 0700 if it already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    _tighten(path)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty as 0600 if it does not exist, and make it 0600 if it does."""
    os.close(open_private(path, os.O_WRONLY))
    return path


def open_private(path: Path, flags: int) -> int:
    """os.open creating the file as 0600, and making an existing one with a looser mode 0600."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o7777 != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_private_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Path.write_text, but a new file is 0600 and an existing one made so."""
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "w", encoding=encoding) as f:
        f.write(text)


def tighten_tree(root: Path) -> int:
    """Make `root` and, if it is a folder, every folder under it 0700 and every file 0600.

    Links are not followed and files of other accounts are left alone. Returns how many
    modes were changed.
    """
    changed = _tighten(root)
    if not root.is_dir() or root.is_symlink():
        return changed
    for folder, _dirs, files in os.walk(root, followlinks=False):
        changed += _tighten(Path(folder))
        changed += sum(_tighten(Path(folder, name)) for name in files)
    return changed


def _tighten(path: Path) -> int:
    try:
        info = os.lstat(path)
    except OSError:
        return 0  # gone meanwhile
    if stat.S_ISDIR(info.st_mode):
        wanted = DIR_MODE
    elif stat.S_ISREG(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        wanted = FILE_MODE
    else:
        return 0  # a link, or a FIFO or device that is none of ours
    if info.st_mode & 0o7777 == wanted or info.st_uid != os.getuid():
        return 0
    try:
        os.chmod(path, wanted)
    except OSError:
        return 0
    return 1
