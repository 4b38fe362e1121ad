"""Opens a document inside an archive (`a.zip › b.pdf`): the engine unpacks it to a private
copy (never beside the archive), and that copy goes to the system's viewer."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import QObject

from desktop.engine_link import EngineLink

MEMBER_SEPARATOR = " › "  # as engine.extract.members writes an entry's path


def is_member_entry(path: str) -> bool:
    """An entry for a document inside an archive: the name holds the separator and no file
    has that path (a real file may be named `a › b` too; it opens as itself)."""
    return MEMBER_SEPARATOR in path and not os.path.lexists(path)


def archive_or_self(path: str) -> str:
    """The archive that holds a member's entry (what "Show in folder" shows), else `path`."""
    return path.partition(MEMBER_SEPARATOR)[0] if is_member_entry(path) else path


class MemberOpener(QObject):
    """Asks the engine for a member's copy, then opens it with `open_file` at the page asked."""

    def __init__(self, link: EngineLink, open_file: Callable[[str, int | None], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._link = link
        self._open_file = open_file
        self._waiting: dict[int, int | None] = {}  # request id -> the page to open it at
        link.member_unpacked.connect(self._on_link_member_unpacked)
        link.request_failed.connect(self._on_link_request_failed)

    def open(self, path: str, page: int | None) -> None:
        self._waiting[self._link.open_member(path)] = page

    def _on_link_member_unpacked(self, request_id: int, _entry: object, file: object) -> None:
        if request_id in self._waiting and isinstance(file, str):
            self._open_file(file, self._waiting.pop(request_id))

    def _on_link_request_failed(self, request_id: int, _code: str, _message: str) -> None:
        self._waiting.pop(request_id, None)  # the window says why (request_failed)
