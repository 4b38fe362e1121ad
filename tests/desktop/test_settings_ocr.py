"""The settings dialog's OCR rows: on or off, languages and the image limit, saved so the
engine reads them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from desktop.settings_dialog import SettingsDialog
from engine.config import OcrConfig, load_config

pytestmark = pytest.mark.gui


def test_ocr_settings_are_saved_for_the_engine(qtbot: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
    dialog = SettingsDialog(data, settings=settings, autostart_dir=tmp_path / "autostart")
    qtbot.addWidget(dialog)
    assert dialog.ocr_check.isChecked() and dialog.ocr_languages_edit.text() == "eng"
    assert dialog.apply()
    assert not (data / "config.toml").exists()  # nothing changed, nothing written
    dialog.ocr_check.setChecked(False)
    dialog.ocr_languages_edit.setText("eng+deu fra")
    dialog.ocr_pixels_edit.setText("12,5")
    assert dialog.apply()
    assert load_config(data).ocr == OcrConfig(
        enabled=False, languages=("eng", "deu", "fra"), max_image_megapixels=12.5
    )
    dialog.ocr_pixels_edit.setText("lots")
    assert not dialog.apply()
    assert "image limit" in dialog.error_label.text()
