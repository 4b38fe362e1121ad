"""Lists the files of a pinned folder that Dowse may read, honouring ignore rules and secrets."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from engine.config import WalkConfig
from engine.ingest.checks import describe_os_error, kind_of

log = logging.getLogger(__name__)

# Folders that are never worth reading, whatever their name's case or the user's rules.
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__"})


@dataclass(frozen=True)
class FoundFile:
    path: Path  # the path inside the pinned folder (never resolved through a symlink)
    size: int
    mtime: float
    # Why this entry is never opened (a named pipe, a broken link), or "" for a regular file.
    problem: str = ""


def classify(path: Path) -> FoundFile | None:
    """The entry at `path` as the walker lists it: a regular file, an entry that is listed
    with a problem and never opened, or None when it is gone."""
    try:
        st = path.stat()
    except FileNotFoundError:
        try:
            link = path.lstat()
        except OSError:
            return None  # gone
        return FoundFile(path, 0, link.st_mtime, "a broken symbolic link")
    except OSError as exc:
        try:
            link = path.lstat()
        except OSError:
            return None
        return FoundFile(path, 0, link.st_mtime, describe_os_error(exc))
    return found_from_stat(path, st)


def found_from_stat(path: Path, st: os.stat_result) -> FoundFile:
    """A named pipe, socket or device is listed with its kind, and never opened."""
    kind = kind_of(st.st_mode)
    return FoundFile(path, st.st_size, st.st_mtime, f"not a regular file: {kind}" if kind else "")


def _is_venv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()


class FolderWalker:
    """Walks one pinned folder. Never follows a symlink out of it and never loops."""

    def __init__(self, root: Path, config: WalkConfig) -> None:
        self.root = Path(os.path.abspath(root))
        self.real_root = Path(os.path.realpath(root))
        self.config = config
        self._rules = pathspec.GitIgnoreSpec.from_lines([*config.exclude, *config.secrets])
        # Parsed .gitignore files for is_included, by folder: (mtime_ns, size, inode), specs.
        self._gitignore_cache: dict[
            Path, tuple[tuple[int, int, int], list[tuple[Path, pathspec.GitIgnoreSpec]]]
        ] = {}

    def walk(self) -> Iterator[FoundFile]:
        seen_dirs: set[tuple[int, int]] = set()
        seen_files: set[tuple[int, int]] = set()
        yield from self._walk_dir(self.root, [], seen_dirs, seen_files)

    def is_included(self, path: Path) -> bool:
        """Whether walk() would yield this file (for example one reported by the watcher).

        Checks the same rules walk() does on the way down, including every .gitignore from the
        root to the file's folder and virtualenv folders, but not symlinks or the file itself.
        """
        absolute = Path(os.path.abspath(path))
        try:
            parts = absolute.relative_to(self.root).parts
        except ValueError:
            return False
        if not parts:
            return False  # the pinned folder itself is not a file
        ignores: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
        directory = self.root
        for name in parts[:-1]:
            ignores = ignores + self._cached_gitignore(directory)
            directory = directory / name
            rel_dir = directory.relative_to(self.root).as_posix() + "/"
            if self._skip_dir_name(name) or self._ignored(rel_dir, directory, ignores):
                return False
            if _is_venv(directory):
                return False
        ignores = ignores + self._cached_gitignore(directory)
        rel = absolute.relative_to(self.root).as_posix()
        return not self._skip_file_name(parts[-1]) and not self._ignored(rel, absolute, ignores)

    def _cached_gitignore(self, directory: Path) -> list[tuple[Path, pathspec.GitIgnoreSpec]]:
        # The watcher asks about one path at a time, often thousands in a burst, so parsing each
        # .gitignore again per call would dominate. The key includes the inode and size as well
        # as the mtime because an editor's save-by-rename, or two writes within one coarse
        # mtime tick, can leave the mtime alone. A plain dict is enough across threads: the
        # worst a race can do is parse the same file twice.
        if not self.config.honour_gitignore:
            return []
        try:
            st = (directory / ".gitignore").stat()
        except OSError:
            self._gitignore_cache.pop(directory, None)
            return []
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._gitignore_cache.get(directory)
        if cached is not None and cached[0] == key:
            return cached[1]
        specs = self._read_gitignore(directory)
        self._gitignore_cache[directory] = (key, specs)
        return specs

    def _skip_dir_name(self, name: str) -> bool:
        return name in ALWAYS_SKIPPED_DIRS or (self.config.skip_hidden and name.startswith("."))

    def _skip_file_name(self, name: str) -> bool:
        return self.config.skip_hidden and name.startswith(".")

    def _inside_root(self, path: Path) -> bool:
        real = os.path.realpath(path)
        return real == str(self.real_root) or real.startswith(str(self.real_root) + os.sep)

    def _walk_dir(
        self,
        directory: Path,
        ignores: list[tuple[Path, pathspec.GitIgnoreSpec]],
        seen_dirs: set[tuple[int, int]],
        seen_files: set[tuple[int, int]],
    ) -> Iterator[FoundFile]:
        try:
            info = directory.stat()
        except OSError as exc:
            log.warning("cannot read %s: %s", directory, exc)
            return
        if (info.st_dev, info.st_ino) in seen_dirs:
            return  # a symlink cycle, or a second link to a folder already walked
        seen_dirs.add((info.st_dev, info.st_ino))

        if self.config.honour_gitignore:
            ignores = ignores + self._read_gitignore(directory)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            log.warning("cannot list %s: %s", directory, exc)
            return

        for entry in entries:
            try:
                yield from self._walk_entry(entry, ignores, seen_dirs, seen_files)
            except Exception:  # a bug, for one name: log it and walk on
                log.exception("cannot list %r", entry.path)

    def _walk_entry(
        self,
        entry: os.DirEntry[str],
        ignores: list[tuple[Path, pathspec.GitIgnoreSpec]],
        seen_dirs: set[tuple[int, int]],
        seen_files: set[tuple[int, int]],
    ) -> Iterator[FoundFile]:
        path = Path(entry.path)
        rel = path.relative_to(self.root).as_posix()
        try:
            is_link = entry.is_symlink()
            if is_link and not self._inside_root(path):
                return  # never leave the pinned folder through a link
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False  # a link loop: listed below with its reason
        if is_dir:
            if self._skip_dir_name(entry.name) or self._ignored(rel + "/", path, ignores):
                return
            if _is_venv(path):
                return
            yield from self._walk_dir(path, ignores, seen_dirs, seen_files)
            return
        if self._skip_file_name(entry.name) or self._ignored(rel, path, ignores):
            return
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError:
            # A broken link or a link loop: listed with its reason, never opened.
            found = classify(path)
            if found is not None:
                yield found
            return
        if (st.st_dev, st.st_ino) in seen_files:
            return
        seen_files.add((st.st_dev, st.st_ino))
        yield found_from_stat(path, st)

    def _ignored(
        self, rel: str, path: Path, ignores: list[tuple[Path, pathspec.GitIgnoreSpec]]
    ) -> bool:
        if self._rules.match_file(rel):
            return True
        # As in git, the deepest .gitignore with a matching pattern decides, so a nested
        # "!keep.log" re-includes what a parent's "*.log" excluded.
        for base, spec in reversed(ignores):
            local = path.relative_to(base).as_posix() + ("/" if rel.endswith("/") else "")
            verdict = spec.check_file(local).include
            if verdict is not None:
                return bool(verdict)
        return False

    def _read_gitignore(self, directory: Path) -> list[tuple[Path, pathspec.GitIgnoreSpec]]:
        gitignore = directory / ".gitignore"
        try:
            lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        return [(directory, pathspec.GitIgnoreSpec.from_lines(lines))]
