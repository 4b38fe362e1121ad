"""The search filters beside the search box: mode, file type, modified date and folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox

from engine.serve.display import display_path

MODES = (("Hybrid", "hybrid"), ("By meaning", "semantic"), ("Exact words", "keyword"))
TYPES = (("Any type", ()), ("PDF", ("pdf",)), ("Documents", ("docx", "odt", "pptx", "epub")),
         ("Text & Markdown", ("txt", "md", "rst")), ("Web pages", ("html", "htm")),
         ("Email", ("eml",)))
DATES = (("Any time", None), ("Past week", 7), ("Past month", 31), ("Past year", 366))
RESULTS = 20  # files a live search asks for


class FilterBar(QObject):
    """Four combo boxes; `changed` when any moves, `options()` as search request fields."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.mode_box, self.type_box = QComboBox(), QComboBox()
        self.date_box, self.folder_box = QComboBox(), QComboBox()
        for box, items in ((self.mode_box, MODES), (self.type_box, TYPES),
                           (self.date_box, DATES)):
            for label, value in items:
                box.addItem(label, value)
        self.folder_box.addItem("All folders", "")
        self._folders: list[str] = []  # item n + 1's path: its item data would lose bytes
        for box in self.boxes():
            box.currentIndexChanged.connect(self.changed)

    def boxes(self) -> tuple[QComboBox, ...]:
        return self.mode_box, self.type_box, self.date_box, self.folder_box

    def options(self) -> dict[str, Any]:
        days = self.date_box.currentData()
        chosen = self.folder_box.currentIndex() - 1
        folder = self._folders[chosen] if 0 <= chosen < len(self._folders) else ""
        return {
            "mode": self.mode_box.currentData(),
            "k": RESULTS,
            "folders": (folder,) if folder else (),
            "types": tuple(self.type_box.currentData() or ()),
            "modified_after": time.time() - days * 86400 if days else None,
        }

    def set_folders(self, paths: list[str]) -> None:
        """Offer these pinned folders, keeping the chosen one if it is still pinned."""
        box = self.folder_box
        if paths == self._folders:
            return
        chosen = box.currentIndex() - 1
        current = self._folders[chosen] if 0 <= chosen < len(self._folders) else None
        box.blockSignals(True)
        box.clear()
        box.addItem("All folders", "")
        for path in paths:
            box.addItem(display_path(Path(path).name or path), display_path(path))
        self._folders = list(paths)
        box.setCurrentIndex(paths.index(current) + 1 if current in paths else 0)
        box.blockSignals(False)
