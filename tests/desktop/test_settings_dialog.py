"""The settings dialog writes config.toml the engine accepts, keeps what it does not edit, and
saves GUI preferences."""

from __future__ import annotations

import configparser
import math
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel

from desktop.settings_dialog import (
    AUTOSTART_FILE_NAME,
    RESOURCES,
    SettingsDialog,
    saved_theme,
    toml_dumps,
    write_config,
)
from engine.config import parse_config

pytestmark = pytest.mark.gui

USER_CONFIG = """\
# my own notes, which the app may drop
[extract]
timeout_seconds = 30.0

[embed]
device = "cpu"
batch_size = 8
pooling = "mean"
query_prefix = "query: "

[index]
ef = 256

[watch.extra]
nested = { a = 1, b = [1.5, 2.5] }
"""


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


def _dialog(qtbot: Any, data_dir: Path, settings: QSettings, tmp_path: Path,
            **kwargs: Any) -> SettingsDialog:
    dialog = SettingsDialog(data_dir, settings=settings, autostart_dir=tmp_path / "autostart",
                            **kwargs)
    qtbot.addWidget(dialog)
    return dialog


def test_editing_keeps_every_other_key(qtbot: Any, tmp_path: Path, settings: QSettings) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "config.toml").write_text(USER_CONFIG, encoding="utf-8")
    model = tmp_path / 'my "odd" model\\ünï'
    model.mkdir()
    dialog = _dialog(qtbot, data_dir, settings, tmp_path)
    assert dialog.device_combo.currentText() == "cpu"
    assert dialog.size_edit.text() == "50"
    assert "node_modules/" in dialog.exclude_edit.toPlainText()

    dialog.model_edit.setText(str(model))
    dialog.device_combo.setCurrentText("cuda")
    dialog.exclude_edit.setPlainText('node_modules/\n\n  say "hi"/  \nC:\\temp\\*\n')
    dialog.size_edit.setText("12.5")
    with qtbot.waitSignal(dialog.engine_settings_changed):
        assert dialog.apply()

    written = tomllib.loads((data_dir / "config.toml").read_text(encoding="utf-8"))
    expected = tomllib.loads(USER_CONFIG)
    expected["embed"].update(model_path=str(model), device="cuda")
    expected["walk"] = {"exclude": ["node_modules/", 'say "hi"/', "C:\\temp\\*"]}
    expected["extract"]["max_file_mb"] = 12.5
    assert written == expected
    assert [p.name for p in data_dir.iterdir()] == ["config.toml"]  # no temporary left behind


def test_written_file_is_one_the_engine_accepts(
    qtbot: Any, tmp_path: Path, settings: QSettings
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = data_dir / "config.toml"
    config.write_text(USER_CONFIG.split("[watch.extra]")[0], encoding="utf-8")
    config.chmod(0o600)
    dialog = _dialog(qtbot, data_dir, settings, tmp_path)
    dialog.device_combo.setCurrentText("auto")
    dialog.size_edit.setText("200")
    dialog.exclude_edit.setPlainText("*.iso\nvideos/")
    assert dialog.apply()

    parsed = parse_config(config.read_text(encoding="utf-8"))
    assert parsed.embed.device == "auto" and parsed.embed.batch_size == 8
    assert parsed.embed.query_prefix == "query: "
    assert parsed.extract.max_file_mb == 200.0 and parsed.extract.timeout_seconds == 30.0
    assert parsed.walk.exclude == ("*.iso", "videos/")
    assert parsed.index.ef == 256
    assert config.stat().st_mode & 0o777 == 0o600


def test_unchanged_settings_write_nothing(
    qtbot: Any, tmp_path: Path, settings: QSettings
) -> None:
    data_dir = tmp_path / "data"
    dialog = _dialog(qtbot, data_dir, settings, tmp_path)
    assert dialog.model_edit.text() == "" and dialog.device_combo.currentText() == "auto"
    with qtbot.assertNotEmitted(dialog.engine_settings_changed):
        assert dialog.apply()
    assert not (data_dir / "config.toml").exists()

    dialog.size_edit.setText("64")
    with qtbot.waitSignal(dialog.engine_settings_changed):
        dialog.accept()
    assert tomllib.loads((data_dir / "config.toml").read_text()) == {
        "extract": {"max_file_mb": 64.0}
    }


def test_debug_logging_is_off_by_default_and_says_what_it_records(
    qtbot: Any, tmp_path: Path, settings: QSettings
) -> None:
    data_dir = tmp_path / "data"
    dialog = _dialog(qtbot, data_dir, settings, tmp_path)
    assert not dialog.debug_log_check.isChecked()
    notes = [label.text() for label in dialog.findChildren(QLabel)]
    assert any("never hold their text or your searches" in text for text in notes)
    dialog.debug_log_check.setChecked(True)
    assert dialog.apply()
    config = parse_config((data_dir / "config.toml").read_text(encoding="utf-8"))
    assert config.log.debug


@pytest.mark.parametrize("size", ["-5", "0", "lots", "nan", "inf"])
def test_bad_size_is_refused_with_a_message(
    qtbot: Any, tmp_path: Path, settings: QSettings, size: str
) -> None:
    dialog = _dialog(qtbot, tmp_path / "data", settings, tmp_path)
    dialog.size_edit.setText(size)
    with qtbot.assertNotEmitted(dialog.engine_settings_changed):
        assert not dialog.apply()
        dialog.accept()
    assert "size limit" in dialog.error_label.text()
    assert dialog.error_banner.isVisibleTo(dialog)
    assert dialog.result() == 0
    assert not (tmp_path / "data" / "config.toml").exists()


def test_missing_model_folder_is_refused(
    qtbot: Any, tmp_path: Path, settings: QSettings
) -> None:
    dialog = _dialog(qtbot, tmp_path / "data", settings, tmp_path,
                     choose_folder=lambda _parent: str(tmp_path / "gone"))
    dialog.browse_button.click()
    assert dialog.model_edit.text() == str(tmp_path / "gone")
    assert not dialog.apply()
    assert "does not exist" in dialog.error_label.text()


def test_unreadable_config_is_left_alone(
    qtbot: Any, tmp_path: Path, settings: QSettings
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    broken = "[embed\ndevice = 'cpu'\n"
    (data_dir / "config.toml").write_text(broken)
    dialog = _dialog(qtbot, data_dir, settings, tmp_path)
    assert "could not be read" in dialog.error_label.text()
    assert not dialog.model_edit.isEnabled()
    with qtbot.assertNotEmitted(dialog.engine_settings_changed):
        assert dialog.apply()
    assert (data_dir / "config.toml").read_text() == broken


def test_theme_is_saved_in_qsettings(qtbot: Any, tmp_path: Path, settings: QSettings) -> None:
    assert saved_theme(settings) == "system"
    dialog = _dialog(qtbot, tmp_path / "data", settings, tmp_path)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    with qtbot.waitSignal(dialog.theme_changed) as changed:
        assert dialog.apply()
    assert changed.args == ["dark"]
    assert saved_theme(settings) == "dark"
    settings.setValue("theme", "purple")
    assert saved_theme(settings) == "system"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop autostart")
def test_start_at_login_writes_and_removes_the_autostart_entry(
    qtbot: Any, tmp_path: Path, settings: QSettings
) -> None:
    entry = tmp_path / "autostart" / AUTOSTART_FILE_NAME
    dialog = _dialog(qtbot, tmp_path / "data", settings, tmp_path)
    assert not dialog.autostart_check.isChecked()
    dialog.autostart_check.setChecked(True)
    assert dialog.apply()
    text = entry.read_text(encoding="utf-8")
    assert "Exec=dowse gui" in text and "X-GNOME-Autostart-enabled=true" in text

    again = _dialog(qtbot, tmp_path / "data", settings, tmp_path)
    assert again.autostart_check.isChecked()
    again.autostart_check.setChecked(False)
    assert again.apply()
    assert not entry.exists()


def test_desktop_entry_has_the_keys_launchers_need() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(RESOURCES / "dowse.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Name"] == "Dowse"
    assert entry["Exec"] == "dowse gui" and entry["Icon"] == "dowse"
    assert entry["Terminal"] == "false" and entry["StartupWMClass"] == "dowse"
    assert entry["Categories"] == "Utility;FileTools;" and entry["Keywords"].endswith(";")
    assert entry["Comment"]
    validator = shutil.which("desktop-file-validate")
    if validator:
        result = subprocess.run([validator, str(RESOURCES / "dowse.desktop")],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


# -- the hand-written TOML ------------------------------------------------------------------

_scalars = (
    st.text(max_size=12)
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), _values, max_size=5))
def test_toml_round_trips(data: dict[str, Any]) -> None:
    assert tomllib.loads(toml_dumps(data)) == data


def test_toml_writes_awkward_values_exactly() -> None:
    data = {
        "a b": {"quote": 'say "hi"', "slash": "C:\\x", "control": "tab\tbell\x07\x7f",
                "unicode": "naïve ☃", "big": 1e300, "tiny": 5e-324, "inf": -math.inf},
        "tables": [{"x": 1}, {"y": {"z": []}}],
        "mixed": [1, "two", [3.0], {"four": 4}],
        "": {"empty key": True},
    }
    text = toml_dumps(data)
    assert tomllib.loads(text) == data
    assert '["a b"]' in text and "[[tables]]" in text


def test_write_config_is_atomic_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    write_config(path, {"embed": {"device": "cpu"}})
    assert tomllib.loads(path.read_text()) == {"embed": {"device": "cpu"}}
    with pytest.raises(TypeError):
        write_config(path, {"embed": {"device": object()}})
    assert tomllib.loads(path.read_text()) == {"embed": {"device": "cpu"}}
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]
