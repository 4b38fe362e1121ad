"""What a user can do to a result: open it (at its page), show it in its folder, open one of its
copies, find more like it, copy its path; from the keyboard, the preview or a right-click menu."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QMimeData, QModelIndex, QObject, QPoint, Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QListView, QMenu

from desktop.engine_link import EngineLink
from desktop.file_icons import file_icon
from desktop.file_opener import PAGED_SUFFIXES, local_url, open_file, reveal_file
from desktop.icons import icon
from desktop.member_opener import MemberOpener, archive_or_self, is_member_entry
from desktop.results_model import path_at, row_at
from engine.serve.display import display_path

SIMILAR_KEYS = "Ctrl+M"


class ResultActions(QObject):
    """Opens files for the results view; `find_similar` is called with a row for Ctrl+M."""

    def __init__(self, results: QListView, find_similar: Callable[[QModelIndex], Any],
                 parent: QObject | None = None, link: EngineLink | None = None) -> None:
        super().__init__(parent)
        self._results = results
        self._find_similar = find_similar
        self.opener: Callable[[str, int | None], None] = open_file  # tests put a recorder here
        self.revealer: Callable[[str], None] = reveal_file
        self.menu: QMenu | None = None  # the last context menu, while open (for tests)
        # A document inside an archive opens as a private copy the engine unpacks.
        self._members = MemberOpener(link, lambda p, n: self.opener(p, n), self) if link else None
        results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        results.customContextMenuRequested.connect(self._on_results_custom_context_menu_requested)

    def open_path(self, path: str) -> None:
        """Open `path`: at the current result's page if it is that file, or a copy's page."""
        self._open(path, self._page_of(path))

    def open_current(self) -> None:
        path = path_at(self._results.currentIndex())
        if path is not None:
            self.open_path(path)

    def reveal_path(self, path: str) -> None:
        self.revealer(archive_or_self(path))  # a member is shown as its archive

    def reveal_current(self) -> None:
        path = path_at(self._results.currentIndex())
        if path is not None:
            self.reveal_path(path)

    def find_similar_current(self) -> None:
        self._find_similar(self._results.currentIndex())

    def build_menu(self, index: QModelIndex) -> QMenu:
        """The right-click menu for the result at `index`."""
        menu = QMenu(self._results)
        row = row_at(index)  # the paths as the engine sent them, never through a QString
        path = row.best.path if row is not None else ""
        page = self._page_of(path)
        label = f"Open at page {page}" if page is not None else "Open"
        # The keys are shown after a tab, not bound: a menu's own Return picks its current item.
        menu.addAction(icon("open"), f"{label}\tEnter", lambda: self._open(path, page))
        menu.addAction(icon("reveal"), f"Show in folder\t{_keys('Ctrl+Return')}",
                       lambda: self.revealer(archive_or_self(path)))
        menu.addAction(icon("sparkle"), f"More like this\t{_keys(SIMILAR_KEYS)}",
                       lambda: self._find_similar(index))
        copies = row.also_in if row is not None else ()
        if copies:
            count = len(copies)
            submenu = menu.addMenu(f"Also in {count} other file{'s' if count != 1 else ''}")
            for copy in copies:
                where = f"  ·  p. {copy['page']}" if copy.get("page") is not None else ""
                submenu.addAction(file_icon(copy.get("name", "")),
                                  f"{display_path(copy['path'])}{where}",
                                  partial(self._open_copy, copy))
        menu.addSeparator()
        menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setMimeData(
            path_mime_data(path)))
        return menu

    def _open_copy(self, copy: dict[str, Any], *_checked: Any) -> None:
        self._open(copy["path"], _paged(copy["path"], copy.get("page")))

    def _open(self, path: str, page: int | None) -> None:
        if self._members is not None and is_member_entry(path):
            self._members.open(path, page)
        else:
            self.opener(path, page)

    def _page_of(self, path: str) -> int | None:
        row = row_at(self._results.currentIndex())
        if row is None:
            return None
        if row.best.path == path:
            return _paged(path, row.best.page)
        for copy in row.also_in:
            if copy.get("path") == path:
                return _paged(path, copy.get("page"))
        return None

    def _on_results_custom_context_menu_requested(self, point: QPoint) -> None:
        index = self._results.indexAt(point)
        if not index.isValid():
            return
        self._results.setCurrentIndex(index)
        self.menu = self.build_menu(index)
        self.menu.popup(self._results.viewport().mapToGlobal(point))


def path_mime_data(path: str) -> QMimeData:
    """`path` for the clipboard: as text (U+FFFD for bytes that are not UTF-8, which no text
    holds) and as its file:// URL byte for byte, which file managers paste as that file."""
    mime = QMimeData()
    mime.setText(display_path(path, keep_controls=True))
    mime.setData("text/uri-list", bytes(local_url(path).toEncoded().data()) + b"\r\n")
    return mime


def _keys(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)


def _paged(path: str, page: Any) -> int | None:
    """`page` if the viewer can be sent to it: a PDF and a page number."""
    suffix = path[path.rfind("."):].lower() if "." in path else ""
    return page if isinstance(page, int) and suffix in PAGED_SUFFIXES else None
