"""The first-run welcome: what Dowse does, that it stays on this machine, and a first pin."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.folders_panel import ChooseFolder, ask_for_folder
from desktop.icons import app_icon, icon

TITLE = "Find things in your files by what they mean"
BODY = (
    "Dowse reads the folders you pin and learns what each passage says, so you can search "
    "by meaning as well as by exact words. Everything — the index and the model that reads "
    "your files — stays on this machine; nothing is sent anywhere."
)
# Offered only when they exist: the places most people keep their own documents.
SUGGESTED = ("Documents", "Desktop")


class OnboardingPanel(QWidget):
    """Explains Dowse in two sentences and offers one-click pins; pinning itself is the engine's."""

    pin_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, home: Path | None = None,
                 choose_folder: ChooseFolder | None = None) -> None:
        super().__init__(parent)
        self._home = home if home is not None else Path.home()
        self._choose_folder = choose_folder or ask_for_folder
        metrics = QFontMetrics(self.font())

        logo = QLabel()
        side = metrics.height() * 4
        logo.setPixmap(app_icon().pixmap(QSize(side, side), self.devicePixelRatioF()))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)

        title = QLabel(TITLE)
        title.setObjectName("onboardingTitle")
        title_font = QFont(self.font())
        title_font.setPointSizeF(self.font().pointSizeF() * 1.6)
        title_font.setWeight(QFont.Weight.DemiBold)
        title.setFont(title_font)
        title.setWordWrap(True)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)

        body = QLabel(BODY)
        body.setWordWrap(True)
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        body.setProperty("muted", True)

        card = QFrame()
        card.setProperty("panel", True)
        card.setMaximumWidth(metrics.averageCharWidth() * 92)
        column = QVBoxLayout(card)
        spacing = metrics.height()
        column.setContentsMargins(2 * spacing, 2 * spacing, 2 * spacing, 2 * spacing)
        column.setSpacing(spacing)
        column.addWidget(logo)
        column.addWidget(title)
        column.addWidget(body)
        column.addSpacing(spacing // 2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)

        self.suggestion_buttons: dict[str, QPushButton] = {}
        for folder in self.suggested_folders():
            button = QPushButton(icon("folder-plus"), f"Pin {folder.name}")
            button.setToolTip(str(folder))
            button.setProperty("path", str(folder))
            button.clicked.connect(self._on_suggestion_button_clicked)
            self.suggestion_buttons[str(folder)] = button
            buttons.addWidget(button)
        self.choose_button = QPushButton(icon("folder"), "Choose a folder…")
        self.choose_button.setDefault(True)
        self.choose_button.clicked.connect(self._on_choose_button_clicked)
        buttons.addWidget(self.choose_button)
        buttons.addStretch(1)
        for button in [*self.suggestion_buttons.values(), self.choose_button]:
            button.setMinimumHeight(metrics.height() * 2)  # a first step, not a footnote
        column.addLayout(buttons)

        # Stretches, not an alignment flag: an aligned widget loses height-for-width, and the
        # wrapped text would be cut off.
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 6)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)

    def suggested_folders(self) -> list[Path]:
        """~/Documents and ~/Desktop, those that exist, in that order."""
        return [self._home / name for name in SUGGESTED if (self._home / name).is_dir()]

    # -- slots -----------------------------------------------------------------------------

    def _on_suggestion_button_clicked(self) -> None:
        button = self.sender()
        if not isinstance(button, QPushButton):
            return
        path = str(button.property("path"))
        # Say it worked right here; the engine's progress shows up once the folder is pinned.
        button.setEnabled(False)
        button.setIcon(icon("check"))
        button.setText(f"{Path(path).name} pinned")
        self.pin_requested.emit(path)

    def _on_choose_button_clicked(self) -> None:
        path = self._choose_folder(self)
        if path:
            self.pin_requested.emit(str(Path(path)))
