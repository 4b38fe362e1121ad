"""Settings: the engine options people change, written back to config.toml, and GUI preferences."""

from __future__ import annotations

import copy
import math
import os
import re
import sys
import tempfile
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.folders_panel import ChooseFolder, ask_for_folder
from desktop.icons import icon

CONFIG_FILE_NAME = "config.toml"
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEVICES = ("auto", "cpu", "cuda", "mps")
THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
THEME_KEY = "theme"  # read by desktop/app.py at start-up
AUTOSTART_FILE_NAME = "dowse.desktop"
DEBUG_LOG_NOTE = ("Off (the default), logs name files that failed but never hold their text "
                  "or your searches. On, they also record your searches and text the app "
                  "could not read, to help find a bug.")
_HEADER = "# Dowse settings, saved by the Dowse app. Every key: resources/default_config.toml\n\n"


class ConfigUnreadableError(ValueError):
    """config.toml exists but is not valid TOML, so saving over it would lose the user's edits."""


# -- TOML, written by hand: the standard library reads it but cannot write it ------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # always has a "." or an exponent, which TOML needs for a float
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }" if pairs else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_plain(value: Any) -> bool:
    return not isinstance(value, dict) and not _is_table_array(value)


def _emit_table(lines: list[str], prefix: list[str], table: dict[str, Any]) -> None:
    # Plain keys first: after a [header] every key belongs to that header's table.
    lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if _is_plain(v))
    for key, value in table.items():
        path = [*prefix, key]
        dotted = ".".join(_toml_key(part) for part in path)
        if isinstance(value, dict):
            if not value or any(_is_plain(v) for v in value.values()):
                lines.extend(["", f"[{dotted}]"])
            _emit_table(lines, path, value)
        elif _is_table_array(value):
            for item in value:
                lines.extend(["", f"[[{dotted}]]"])
                _emit_table(lines, path, item)


def toml_dumps(data: dict[str, Any]) -> str:
    """TOML text that `tomllib.loads` turns back into `data` (comments are not kept)."""
    lines: list[str] = []
    _emit_table(lines, [], data)
    return "\n".join(lines).strip("\n") + "\n"


def read_config(path: Path) -> dict[str, Any]:
    """The raw TOML tables in the config file; {} when there is no file yet."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigUnreadableError(f"{path} could not be read: {exc}") from exc


def write_config(path: Path, data: dict[str, Any]) -> None:
    """Replace the config file in one step, so the engine never reads half a file."""
    text = _HEADER + toml_dumps(data)
    tomllib.loads(text)  # never swap a good file for one that cannot be read back
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def default_engine_settings() -> dict[str, Any]:
    """The engine's documented defaults, to tell an edited value from an untouched one."""
    try:
        return tomllib.loads((RESOURCES / "default_config.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


# -- GUI preferences --------------------------------------------------------------------------


def saved_theme(settings: QSettings | None = None) -> str:
    """The theme the user chose ("system", "light" or "dark")."""
    value = str((settings or QSettings("Dowse", "Dowse")).value(THEME_KEY, "system"))
    return value if value in THEMES else "system"


def default_autostart_dir() -> Path:
    """Where freedesktop session managers look for programs to start at login."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "autostart"


def set_start_at_login(enabled: bool, autostart_dir: Path) -> None:
    """Add or remove Dowse's desktop entry in the autostart folder."""
    entry = autostart_dir / AUTOSTART_FILE_NAME
    if not enabled:
        entry.unlink(missing_ok=True)
        return
    text = (RESOURCES / "dowse.desktop").read_text(encoding="utf-8")
    autostart_dir.mkdir(parents=True, exist_ok=True)
    entry.write_text(text.rstrip("\n") + "\nX-GNOME-Autostart-enabled=true\n", encoding="utf-8")


class SettingsDialog(QDialog):
    """Edits a handful of engine keys and GUI preferences; every other key is kept as it was."""

    engine_settings_changed = Signal()
    theme_changed = Signal(str)

    def __init__(self, data_dir: Path, parent: QWidget | None = None, *,
                 settings: QSettings | None = None, autostart_dir: Path | None = None,
                 choose_folder: ChooseFolder | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Dowse settings")
        self.config_path = Path(data_dir) / CONFIG_FILE_NAME
        self._settings = settings if settings is not None else QSettings("Dowse", "Dowse")
        self._autostart_dir = autostart_dir or default_autostart_dir()
        self._choose_folder = choose_folder or ask_for_folder
        self._defaults = default_engine_settings()
        try:
            self._raw, unreadable = read_config(self.config_path), ""
        except ConfigUnreadableError as exc:
            self._raw, unreadable = {}, str(exc)
        self._config_readable = not unreadable

        self.model_edit = QLineEdit(str(self._current("embed", "model_path") or ""))
        self.model_edit.setPlaceholderText("The packaged model (all-MiniLM-L6-v2)")
        self.browse_button = QPushButton(icon("folder"), "Choose…")
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_edit, 1)
        model_row.addWidget(self.browse_button)
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        device = str(self._current("embed", "device") or "auto")
        if device not in DEVICES:
            self.device_combo.addItem(device)
        self.device_combo.setCurrentText(device)
        self.exclude_edit = QPlainTextEdit("\n".join(self._current("walk", "exclude") or []))
        self.exclude_edit.setTabChangesFocus(True)
        metrics = QFontMetrics(self.font())
        edit_chrome = 2 * (self.exclude_edit.frameWidth()
                           + round(self.exclude_edit.document().documentMargin()))
        self.exclude_edit.setFixedHeight(metrics.lineSpacing() * 6 + edit_chrome)
        size = self._current("extract", "max_file_mb")
        size_text = f"{size:g}" if isinstance(size, int | float) else str(size or "")
        self.size_edit = QLineEdit(size_text)
        self.size_edit.setMaximumWidth(metrics.averageCharWidth() * 10)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size_edit)
        size_row.addWidget(QLabel("MB (larger files are skipped)"), 1)
        self.ocr_check = QCheckBox("Read the words in images and scanned PDFs (needs Tesseract)")
        self.ocr_check.setChecked(bool(self._current("ocr", "enabled")))
        self.ocr_languages_edit = QLineEdit(" ".join(self._current("ocr", "languages") or []))
        self.ocr_languages_edit.setPlaceholderText("eng deu fra (Tesseract language codes)")
        pixels = self._current("ocr", "max_image_megapixels")
        self.ocr_pixels_edit = QLineEdit(f"{pixels:g}" if isinstance(pixels, int | float) else "")
        self.ocr_pixels_edit.setMaximumWidth(metrics.averageCharWidth() * 10)

        engine = QGroupBox("Search engine")
        form = QFormLayout(engine)
        form.addRow("Model folder", model_row)
        form.addRow("Device", self.device_combo)
        form.addRow("Skip these", self.exclude_edit)
        form.addRow("", self._muted("One gitignore-style pattern per line. Private keys, .ssh "
                                    "and .env files are skipped as well."))
        form.addRow("Size limit", size_row)
        form.addRow("Scans", self.ocr_check)
        form.addRow("Languages", self.ocr_languages_edit)
        form.addRow("Image limit", self.ocr_pixels_edit)
        self.debug_log_check = QCheckBox("Debug logging")
        self.debug_log_check.setChecked(bool(self._current("log", "debug")))
        form.addRow("Logs", self.debug_log_check)
        form.addRow("", self._muted(DEBUG_LOG_NOTE))
        self.restart_note = self._muted(
            f"Engine settings apply after the engine restarts. Saved in {self.config_path}."
        )
        self.restart_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.restart_note)
        engine.setEnabled(self._config_readable)

        self.theme_combo = QComboBox()
        for mode, label in THEMES.items():
            self.theme_combo.addItem(label, mode)
        self.theme_combo.setCurrentIndex(list(THEMES).index(saved_theme(self._settings)))
        self.autostart_check = QCheckBox("Start Dowse when I log in")
        self.autostart_check.setChecked((self._autostart_dir / AUTOSTART_FILE_NAME).exists())
        if not sys.platform.startswith("linux"):
            self.autostart_check.setEnabled(False)
            self.autostart_check.setToolTip("Only on Linux for now")
        app = QGroupBox("This app")
        app_form = QFormLayout(app)
        app_form.addRow("Theme", self.theme_combo)
        app_form.addRow("", self.autostart_check)

        self.error_banner = QFrame()
        self.error_banner.setProperty("banner", "error")
        self.error_label = QLabel(unreadable)
        self.error_label.setWordWrap(True)
        QVBoxLayout(self.error_banner).addWidget(self.error_label)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_banner)
        layout.addWidget(engine)
        layout.addWidget(app)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self.error_banner.setVisible(bool(unreadable))  # once parented: never a window of its own
        self.resize(metrics.averageCharWidth() * 90, self.sizeHint().height())

    @staticmethod
    def _muted(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setProperty("muted", True)
        return label

    def _current(self, section: str, key: str) -> Any:
        """The value the engine uses now: the file's, else the default."""
        table = self._raw.get(section)
        if isinstance(table, dict) and key in table:
            return table[key]
        return self._defaults.get(section, {}).get(key)

    def _edited_engine_values(self) -> dict[tuple[str, str], Any]:
        """The engine fields as typed; raises ValueError with a message for the user."""
        text = self.size_edit.text().strip().replace(",", ".")
        try:
            size = float(text)
        except ValueError:
            raise ValueError(f"The size limit must be a number of MB, not “{text}”.") from None
        if not math.isfinite(size) or size <= 0:
            raise ValueError("The size limit must be more than 0 MB.")
        model = self.model_edit.text().strip()
        if model and not Path(model).expanduser().is_dir():
            raise ValueError(f"The model folder {model} does not exist.")
        patterns = [line.strip() for line in self.exclude_edit.toPlainText().splitlines()]
        try:
            pixels = float(self.ocr_pixels_edit.text().strip().replace(",", ".") or "50")
        except ValueError:
            raise ValueError("The image limit must be a number of megapixels.") from None
        return {
            ("embed", "model_path"): model,
            ("embed", "device"): self.device_combo.currentText(),
            ("walk", "exclude"): [pattern for pattern in patterns if pattern],
            ("extract", "max_file_mb"): size,
            ("ocr", "enabled"): self.ocr_check.isChecked(),
            ("ocr", "languages"): self.ocr_languages_edit.text().replace("+", " ").split(),
            ("ocr", "max_image_megapixels"): pixels,
            ("log", "debug"): self.debug_log_check.isChecked(),
        }

    def apply(self) -> bool:
        """Validate and save everything; False (with the reason shown) when nothing was saved."""
        try:
            if self._config_readable:
                self._save_engine_settings()
            wanted = self.autostart_check.isChecked()
            if wanted != (self._autostart_dir / AUTOSTART_FILE_NAME).exists():
                set_start_at_login(wanted, self._autostart_dir)
        except (ValueError, OSError) as exc:
            self._show_error(str(exc))
            return False
        self.error_banner.hide()
        theme = str(self.theme_combo.currentData())
        if theme != saved_theme(self._settings):
            self._settings.setValue(THEME_KEY, theme)
            self._settings.sync()
            self.theme_changed.emit(theme)
        return True

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_banner.show()
        # Wrapped labels report their height only for a given width, so the dialog does not
        # grow by itself when the banner appears; without this the rows overlap.
        layout = self.layout()
        layout.activate()
        needed = layout.totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def _save_engine_settings(self) -> None:
        edited = copy.deepcopy(self._raw)
        for (section, key), value in self._edited_engine_values().items():
            if value != self._current(section, key):
                table = edited.setdefault(section, {})
                if not isinstance(table, dict):
                    raise ValueError(f"[{section}] in {self.config_path} is not a table.")
                table[key] = value
        if edited != self._raw:
            write_config(self.config_path, edited)
            self._raw = edited
            self.engine_settings_changed.emit()

    def accept(self) -> None:
        if self.apply():
            super().accept()

    # -- slots -----------------------------------------------------------------------------

    def _on_browse_button_clicked(self) -> None:
        path = self._choose_folder(self)
        if path:
            self.model_edit.setText(str(Path(path)))
