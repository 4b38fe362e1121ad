""""More like this" in the app over a real engine: Ctrl+M on a result lists passages close to
it in meaning, taken from its stored vector, and Esc puts the search's results back."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from desktop.engine_link import EngineLink
from desktop.main_window import MainWindow
from desktop.results_model import ResultRole
from tests.helpers.engine_process import stop_leftover_engine

pytestmark = [pytest.mark.gui, pytest.mark.e2e, pytest.mark.model]

NOTES = {
    "tern.txt": "Arctic terns migrate from pole to pole every year, the longest journey of "
                "any bird.",
    "swift.txt": "Common swifts stay in the air for ten months, flying thousands of "
                 "kilometres south to Africa and back.",
    "bread.txt": "The sourdough starter needs feeding twice a day with rye flour and water.",
}


@pytest.fixture
def short_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    runtime = Path(tempfile.mkdtemp(prefix="dw-"))  # sun_path is short; pytest's tmp is long
    monkeypatch.setenv("DOWSE_RUNTIME_DIR", str(runtime))
    yield runtime
    shutil.rmtree(runtime, ignore_errors=True)


def test_more_like_this_over_a_real_engine(data_dir: Path, tmp_path: Path, short_runtime: Path,
                                           qtbot: Any) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    link = EngineLink(data_dir, spawn=True, status_interval_ms=300)
    window = MainWindow(link, data_dir)
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(link.connected, timeout=60_000):
            link.start()
        with qtbot.waitSignal(link.folder_changed, timeout=60_000,
                              check_params_cb=lambda row: row["state"] == "idle"):
            link.pin(str(folder))
        window.search_box.setText("birds that fly a long way")
        qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=30_000)
        tern = next(i for i in range(window.model.rowCount())
                    if window.model.index(i, 0).data(ResultRole.Path).endswith("tern.txt"))
        window.results.setCurrentIndex(window.model.index(tern, 0))

        qtbot.keyClick(window.search_box, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.similar_header.isVisible()
                        and window.model.query == "" and window.model.rowCount() > 0,
                        timeout=30_000)
        paths = [Path(window.model.index(i, 0).data(ResultRole.Path)).name
                 for i in range(window.model.rowCount())]
        assert "tern.txt" not in paths  # the passage itself is not "like" itself
        assert paths[0] == "swift.txt"  # the other bird, not the bread
        assert "More like tern.txt" in window.similar_header.title.text()

        qtbot.keyClick(window.search_box, Qt.Key.Key_Escape)
        assert not window.similar_header.isVisible()
        assert window.model.query == "birds that fly a long way"
        with qtbot.waitSignal(link.engine_stopped, timeout=30_000):
            link.shutdown_engine()
    finally:
        link.close()
        stop_leftover_engine(data_dir)

