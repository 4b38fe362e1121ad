"""`dowse gui`: opens the window at once, then finds or starts the engine behind it."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop.engine_link import EngineLink
from desktop.icons import app_icon
from desktop.main_window import MainWindow
from desktop.settings_dialog import saved_theme
from desktop.theme import apply_theme


def main(data_dir: Path, pin: Sequence[str] = ()) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Dowse")
    app.setOrganizationName("Dowse")
    app.setDesktopFileName("dowse")
    app.setWindowIcon(app_icon())
    apply_theme(app, saved_theme())

    link = EngineLink(data_dir)
    window = MainWindow(link, data_dir)
    window.show()
    window.focus_search()
    # The engine starts after the window is on screen: the window never waits for the model.
    QTimer.singleShot(0, link.start)
    for path in pin:
        link.pin(os.path.abspath(os.path.expanduser(path)))
    code = app.exec()
    link.close()
    return int(code)
