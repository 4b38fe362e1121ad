"""Icons, theme, folders panel, errors dialog and onboarding, driven headless through qtbot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QMimeData, QPoint, QPointF, QSize, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QIcon, QImage, QPalette
from PySide6.QtWidgets import QApplication

from desktop import icons, theme
from desktop.errors_dialog import EMPTY_TEXT, ErrorsDialog
from desktop.folders_panel import (
    BadgeRole,
    FoldersPanel,
    folder_badge,
    folder_summary,
)
from desktop.onboarding import OnboardingPanel

pytestmark = pytest.mark.gui

UI_ICONS = {
    "search", "folder", "folder-plus", "pause", "play", "remove", "warning", "settings", "open",
    "reveal", "retry", "check", "sparkle", "text",
}


def _opaque_pixels(image: QImage) -> int:
    return sum(
        image.pixelColor(x, y).alpha() > 0 for x in range(image.width())
        for y in range(image.height())
    )


# -- icons ------------------------------------------------------------------------------------


def test_every_ui_icon_is_shipped() -> None:
    assert UI_ICONS | {"dowse"} <= set(icons.icon_names())


@pytest.mark.parametrize("name", sorted(UI_ICONS))
def test_icon_renders_at_small_and_large_sizes(qapp: QApplication, name: str) -> None:
    source = (icons.ICONS_DIR / f"{name}.svg").read_text(encoding="utf-8")
    assert 'viewBox="0 0 24 24"' in source and "currentColor" in source
    drawn = icons.icon(name)
    assert not drawn.isNull()
    for side in (16, 64):
        pixmap = drawn.pixmap(QSize(side, side))
        assert pixmap.size() == QSize(side, side)
        assert _opaque_pixels(pixmap.toImage()) > side  # more than a stray dot
    crisp = drawn.pixmap(QSize(16, 16), 2.0)
    assert crisp.size() == QSize(32, 32) and crisp.devicePixelRatio() == 2.0


def test_icon_takes_the_given_colour(qapp: QApplication) -> None:
    image = icons.icon("check", QColor("#ff0000")).pixmap(QSize(48, 48)).toImage()
    colours = {
        image.pixelColor(x, y).name() for x in range(48) for y in range(48)
        if image.pixelColor(x, y).alpha() == 255
    }
    assert colours == {"#ff0000"}
    assert icons.icon("check", QColor("#ff0000")) is icons.icon("check", QColor("#ff0000"))


def test_unknown_icon_is_refused_by_name(qapp: QApplication) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-icon"):
        icons.icon("no-such-icon")


def test_app_icon_has_every_size(qapp: QApplication) -> None:
    app_icon = icons.app_icon()
    assert not app_icon.isNull()
    assert {16, 32, 256} <= {size.width() for size in app_icon.availableSizes()}
    for side in (16, 64, 256):
        image = app_icon.pixmap(QSize(side, side)).toImage()
        centre = image.pixelColor(side // 2, side // 2)
        assert centre.alpha() == 255
    assert not QIcon(str(icons.ICONS_DIR / "dowse.svg")).isNull()


# -- theme ------------------------------------------------------------------------------------


@pytest.fixture
def restore_app_look(qapp: QApplication) -> Any:
    style, palette, sheet = qapp.style().name(), qapp.palette(), qapp.styleSheet()
    yield qapp
    qapp.setProperty("dowseThemeMode", "")
    qapp.styleHints().unsetColorScheme()
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)
    qapp.setStyle(style)


@pytest.mark.parametrize("dark", [False, True])
def test_palette_is_readable(dark: bool) -> None:
    palette = theme.make_palette(dark)
    role = QPalette.ColorRole
    assert theme.is_dark(palette) is dark
    assert theme.contrast_ratio(palette.color(role.Text), palette.color(role.Base)) >= 4.5
    assert theme.contrast_ratio(palette.color(role.WindowText), palette.color(role.Window)) >= 4.5
    assert theme.contrast_ratio(palette.color(role.HighlightedText),
                                theme.accent_color(palette)) >= 4.5
    assert theme.contrast_ratio(palette.color(role.PlaceholderText),
                                palette.color(role.Base)) >= 4.5
    for kind in ("success", "warning", "danger", "muted"):
        colour = theme.semantic_color(palette, kind)
        assert theme.contrast_ratio(colour, palette.color(role.Window)) >= 3


def test_contrast_ratio_matches_wcag() -> None:
    assert theme.contrast_ratio(QColor("black"), QColor("white")) == pytest.approx(21)
    assert theme.contrast_ratio(QColor("#777777"), QColor("#777777")) == pytest.approx(1)


def test_forced_light_and_dark_differ(restore_app_look: QApplication) -> None:
    app = restore_app_look
    theme.apply_theme(app, "light")
    light = app.palette()
    assert not theme.is_dark(light)
    assert "searchField" in app.styleSheet()
    theme.apply_theme(app, "dark")
    dark = app.palette()
    assert theme.is_dark(dark)
    assert light.color(QPalette.ColorRole.Window) != dark.color(QPalette.ColorRole.Window)
    assert theme.accent_color(light).isValid()


def test_system_mode_follows_scheme_and_bad_modes_fall_back(
    restore_app_look: QApplication,
) -> None:
    app = restore_app_look
    theme.apply_theme(app, "no-such-mode")
    expect_dark = app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    assert theme.is_dark(app.palette()) is expect_dark
    assert app.property("dowseThemeMode") == "system"


# -- folders panel ----------------------------------------------------------------------------


def _row(path: str, **counts: Any) -> dict[str, Any]:
    row = {"path": path, "files": 0, "indexed": 0, "failed": 0, "skipped": 0, "queued": 0,
           "watch": "live", "paused": False, "state": "idle"}
    row.update(counts)
    return row


@pytest.fixture
def folders(qtbot: Any) -> FoldersPanel:
    chosen = {"answer": True}
    panel = FoldersPanel(confirm_unpin=lambda _parent, _path: chosen["answer"],
                         choose_folder=lambda _parent: "/home/me/Notes")
    panel.confirm_answer = chosen  # type: ignore[attr-defined]
    qtbot.addWidget(panel)
    panel.resize(420, 360)
    panel.set_folders([
        _row("/home/me/Documents", files=1240, indexed=1234, failed=3, queued=12),
        _row("/home/me/Desktop", watch="polling", indexed=5),
        _row("/home/me/Old", paused=True, indexed=7),
        _row("/mnt/usb/Photos", state="missing"),
    ])
    return panel


def test_folder_summary_and_badges() -> None:
    assert folder_summary(_row("/a", indexed=1234, failed=3, queued=12)) == (
        "1,234 indexed · 3 failed · 12 queued"
    )
    assert folder_summary(_row("/a", indexed=2, skipped=1)) == "2 indexed · 1 skipped"
    assert folder_badge(_row("/a")) == "live"
    assert folder_badge(_row("/a", watch="polling")) == "polling"
    assert folder_badge(_row("/a", watch="none")) == "not watched"
    assert folder_badge(_row("/a", paused=True)) == "paused"
    assert folder_badge(_row("/a", paused=True, state="missing")) == "missing"
    assert folder_badge(_row("/a", state="error")) == "error"


def test_folders_render_with_counts_and_badges(folders: FoldersPanel) -> None:
    items = [folders.list.item(n) for n in range(folders.list.count())]
    assert [item.text() for item in items] == ["Documents", "Desktop", "Old", "Photos"]
    assert [item.data(BadgeRole) for item in items] == ["live", "polling", "paused", "missing"]
    described = items[0].data(Qt.ItemDataRole.AccessibleTextRole)
    assert "1,234 indexed · 3 failed · 12 queued" in described
    assert "/home/me/Documents" in items[0].toolTip()
    assert not folders.grab().isNull()  # the delegate paints every row without raising


def test_buttons_follow_the_selection(folders: FoldersPanel, qtbot: Any) -> None:
    assert not folders.pause_button.isEnabled() and not folders.remove_button.isEnabled()
    assert folders.select_path("/home/me/Documents")
    assert folders.pause_button.text() == "Pause"
    with qtbot.waitSignal(folders.pause_requested) as paused:
        folders.pause_button.click()
    assert paused.args == ["/home/me/Documents"]

    folders.select_path("/home/me/Old")
    assert folders.pause_button.text() == "Resume"
    with qtbot.assertNotEmitted(folders.pause_requested):
        with qtbot.waitSignal(folders.resume_requested) as resumed:
            folders.pause_button.click()
    assert resumed.args == ["/home/me/Old"]


def test_remove_asks_first(folders: FoldersPanel, qtbot: Any) -> None:
    folders.select_path("/home/me/Desktop")
    folders.confirm_answer["answer"] = False  # type: ignore[attr-defined]
    with qtbot.assertNotEmitted(folders.forget_requested):
        folders.remove_button.click()
    folders.confirm_answer["answer"] = True  # type: ignore[attr-defined]
    with qtbot.waitSignal(folders.forget_requested) as removed:
        folders.remove_button.click()
    assert removed.args == ["/home/me/Desktop"]


def test_add_and_errors_buttons(folders: FoldersPanel, qtbot: Any) -> None:
    with qtbot.waitSignal(folders.pin_requested) as pinned:
        folders.add_button.click()
    assert pinned.args == ["/home/me/Notes"]
    with qtbot.waitSignal(folders.errors_requested):
        folders.errors_button.click()


def _mime(*paths: Path | str) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) if not str(p).startswith("http") else QUrl(str(p))
                  for p in paths])
    return mime


# PySide6 6.12 binds only QDragEnterEvent's QPoint constructor, which Qt marks deprecated.
@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent.*deprecated:DeprecationWarning")
def test_dropping_a_folder_pins_it_and_files_are_ignored(
    folders: FoldersPanel, qtbot: Any, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    actions = Qt.DropAction.CopyAction | Qt.DropAction.LinkAction
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    file_only = _mime(tmp_path / "notes.txt", "https://example.com/x")
    enter = QDragEnterEvent(QPoint(5, 5), actions, file_only, buttons, keys)
    folders.dragEnterEvent(enter)
    assert not enter.isAccepted()
    with qtbot.assertNotEmitted(folders.pin_requested):
        folders.dropEvent(QDropEvent(QPointF(5, 5), actions, file_only, buttons, keys))

    both = _mime(tmp_path / "notes.txt", tmp_path)
    enter = QDragEnterEvent(QPoint(5, 5), actions, both, buttons, keys)
    folders.dragEnterEvent(enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(folders.pin_requested) as pinned:
        folders.dropEvent(QDropEvent(QPointF(5, 5), actions, both, buttons, keys))
    assert pinned.args == [str(tmp_path)]


def test_selection_survives_updates(folders: FoldersPanel) -> None:
    folders.select_path("/home/me/Desktop")
    folders.set_folders([
        _row("/home/me/Documents", indexed=1300),
        _row("/home/me/Desktop", watch="polling", indexed=9, queued=4),
        _row("/home/me/Old", paused=True),
        _row("/mnt/usb/Photos", state="missing"),
    ])
    assert folders.selected_path() == "/home/me/Desktop"
    assert "9 indexed · 4 queued" in folders.list.currentItem().toolTip()

    folders.set_folders([_row("/home/me/Archive"), _row("/home/me/Desktop", paused=True)])
    assert folders.selected_path() == "/home/me/Desktop"
    assert folders.pause_button.text() == "Resume"

    folders.set_folders([_row("/home/me/Archive")])
    assert folders.selected_path() is None
    assert not folders.remove_button.isEnabled()


def test_empty_panel_invites_a_first_folder(qtbot: Any) -> None:
    panel = FoldersPanel()
    qtbot.addWidget(panel)
    panel.set_folders([])
    assert panel.paths() == []
    assert not panel.list.isVisibleTo(panel)


# -- errors dialog ----------------------------------------------------------------------------

ERRORS = [
    {"path": "/docs/b/huge.iso", "state": "skipped", "reason": "larger than 50 MB"},
    {"path": "/docs/a/report.pdf", "state": "failed", "reason": "PDF is encrypted"},
    {"path": "/docs/a/notes.docx", "state": "failed", "reason": "not a zip file\ntraceback"},
    {"path": "/docs/b/movie.mkv", "state": "skipped", "reason": "not a kind Dowse reads"},
]


@pytest.fixture
def errors(qtbot: Any) -> ErrorsDialog:
    dialog = ErrorsDialog()
    qtbot.addWidget(dialog)
    dialog.set_errors(ERRORS)
    return dialog


def test_errors_model_is_a_sound_model(qtmodeltester: Any) -> None:
    dialog = ErrorsDialog()
    dialog.set_errors(ERRORS)
    qtmodeltester.check(dialog.model)
    dialog.deleteLater()


def test_failed_files_come_first(errors: ErrorsDialog) -> None:
    assert errors.visible_paths() == [
        "/docs/a/notes.docx", "/docs/a/report.pdf", "/docs/b/huge.iso", "/docs/b/movie.mkv",
    ]
    first = errors.model.index(0, 0)
    assert first.data() == "notes.docx"
    assert errors.model.index(0, 1).data() == "/docs/a"
    assert errors.model.index(0, 2).data() == "not a zip file"
    assert "traceback" in first.data(Qt.ItemDataRole.ToolTipRole)
    assert "2 files could not be read" in errors.summary.text()
    assert not errors.grab().isNull()


def test_filter_narrows_the_table(errors: ErrorsDialog) -> None:
    errors.filter_edit.setText("ENCRYPTED")
    assert errors.visible_paths() == ["/docs/a/report.pdf"]
    errors.filter_edit.setText("docs/b")
    assert errors.visible_paths() == ["/docs/b/huge.iso", "/docs/b/movie.mkv"]
    errors.filter_edit.clear()
    assert len(errors.visible_paths()) == 4


def test_retry_and_reveal_emit_the_selected_paths(errors: ErrorsDialog, qtbot: Any) -> None:
    assert not errors.retry_button.isEnabled()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    table = errors.table
    for row in (0, 2):
        table.selectionModel().select(table.model().index(row, 0), flags)
    assert errors.retry_button.isEnabled()
    with qtbot.waitSignal(errors.retry_requested) as retried:
        errors.retry_button.click()
    assert retried.args == [["/docs/a/notes.docx", "/docs/b/huge.iso"]]

    table.setCurrentIndex(table.model().index(1, 2))
    with qtbot.waitSignal(errors.reveal_requested) as revealed:
        errors.reveal_button.click()
    assert revealed.args == ["/docs/a/report.pdf"]


def test_no_errors_says_so(qtbot: Any) -> None:
    dialog = ErrorsDialog()
    qtbot.addWidget(dialog)
    dialog.set_errors([])
    assert not dialog.table.isVisibleTo(dialog)
    assert dialog.findChild(type(dialog.summary), "errorsEmpty").text() == EMPTY_TEXT
    assert EMPTY_TEXT == "No problems — every file was read."
    assert not dialog.retry_button.isEnabled()


# -- onboarding -------------------------------------------------------------------------------


def test_onboarding_offers_only_existing_folders(qtbot: Any, tmp_path: Path) -> None:
    (tmp_path / "Documents").mkdir()
    panel = OnboardingPanel(home=tmp_path, choose_folder=lambda _parent: str(tmp_path / "x"))
    qtbot.addWidget(panel)
    assert panel.suggested_folders() == [tmp_path / "Documents"]
    assert list(panel.suggestion_buttons) == [str(tmp_path / "Documents")]
    button = panel.suggestion_buttons[str(tmp_path / "Documents")]
    with qtbot.waitSignal(panel.pin_requested) as pinned:
        button.click()
    assert pinned.args == [str(tmp_path / "Documents")]
    assert not button.isEnabled()
    with qtbot.waitSignal(panel.pin_requested) as chosen:
        panel.choose_button.click()
    assert chosen.args == [str(tmp_path / "x")]


def test_onboarding_with_neither_folder(qtbot: Any, tmp_path: Path) -> None:
    (tmp_path / "Desktop").write_text("a file, not a folder")
    panel = OnboardingPanel(home=tmp_path)
    qtbot.addWidget(panel)
    assert panel.suggestion_buttons == {}
    assert panel.choose_button.isEnabled()
