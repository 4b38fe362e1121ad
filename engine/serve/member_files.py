"""Open of a document inside an archive: the member is unpacked, by a child process within the
archive caps, into a private folder under the data dir (never beside the archive), for the
app to hand to a viewer. What one engine unpacked is removed when the next one starts."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from engine.config import Config
from engine.extract import ExtractError
from engine.extract.isolated import IsolatedExtractor
from engine.extract.members import UnpackedMember, archive_of
from engine.private_files import private_dir
from engine.serve import protocol
from engine.store import Store

log = logging.getLogger(__name__)

OPENED_DIR = "opened"  # under the data dir: each Open gets a folder of its own in it


class MemberFiles:
    def __init__(self, data_dir: Path, config: Config, store: Callable[[], Store]) -> None:
        self.root = data_dir / OPENED_DIR
        self._config = config.extract
        self._store = store
        self._child: IsolatedExtractor | None = None
        self._lock = threading.Lock()
        self._copies: dict[str, str] = {}  # folder of a copy -> the entry it holds

    def clear(self) -> None:
        """Remove the copies an earlier engine unpacked (at start, before any Open)."""
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
            log.info("removed the copies of archive members opened before")

    def open(self, request: protocol.OpenMember) -> protocol.MemberFile:
        """Only an indexed member is unpacked: the engine never unpacks a path a client made up."""
        row = self._store().file_by_path(request.path)
        if archive_of(request.path) is None or row is None:
            raise ValueError(f"not an indexed document inside an archive: {request.path}")
        folder = tempfile.mkdtemp(prefix="member-", dir=private_dir(self.root))  # 0700
        try:
            unpacked = cast(UnpackedMember, self._unpacker().call((request.path, folder)))
        except ExtractError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ValueError(f"cannot open {request.path}: {exc}") from exc
        with self._lock:
            self._copies[folder] = request.path
        return protocol.MemberFile(id=request.id, path=request.path, file=unpacked.file)

    def forget_under(self, targets: Sequence[str]) -> None:
        """Remove the copies of members of what a forget or an unpin removes from the index:
        what deleting guarantees (docs/PRIVACY.md) holds for them too."""
        prefixes = [t.rstrip("/") + "/" for t in targets]
        with self._lock:
            gone = [f for f, entry in self._copies.items()
                    if entry.startswith(tuple(prefixes)) or archive_of(entry) in targets]
            for folder in gone:
                del self._copies[folder]
        for folder in gone:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            child.close()

    def _unpacker(self) -> IsolatedExtractor:
        with self._lock:
            if self._child is None:
                self._child = IsolatedExtractor(
                    self._config.timeout_seconds, self._config.max_file_bytes,
                    target="engine.extract.members:unpack_for_open",
                    max_memory=self._config.max_memory_bytes,
                )
            return self._child
