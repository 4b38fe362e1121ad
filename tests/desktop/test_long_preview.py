"""A 3 MB text file previews: the engine sends the part of its text around the passage (one
protocol message holds at most 1 MiB), and the preview marks the passage where it really is."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop.engine_link import EngineLink
from desktop.main_window import MainWindow
from engine.serve import protocol
from tests.helpers.fake_engine import FakeEngine

pytestmark = pytest.mark.gui

WAIT_MS = 10_000
PATH = "/logs/huge.log"
LINE = "Entry {:06d}: the nightly backup of the archive finished without any complaint.\n"
TEXT = "".join(LINE.format(n) for n in range(37_500))  # 3 MB
START = TEXT.index("Entry 020000")
END = START + len(LINE.format(0)) - 1
STATUS = {"engine": {"state": "running", "activity": "idle"}, "queue": 0, "folders": 1,
          "folder_list": [{"path": "/logs", "state": "active", "files": 1, "indexed": 1,
                           "failed": 0, "skipped": 0, "queued": 0, "watch": "live",
                           "paused": False}]}


def _answer(request: protocol.Search) -> dict[str, Any]:
    hits = [{"path": PATH, "page": None, "start": start, "end": start + len(LINE) - 1,
             "text": TEXT[start : start + len(LINE) - 1], "score": score, "mtime": 1.0}
            for start, score in ((START, 2.0), (0, 1.0))]
    hits[1]["path"] = "/logs/copy.log"
    return {"query": request.query, "mode": "keyword", "confident": True, "elapsed_ms": 1.0,
            "results": hits}


@pytest.fixture
def window(data_dir: Path, qtbot: Any) -> Iterator[tuple[MainWindow, FakeEngine]]:
    fake = FakeEngine(data_dir).start()
    fake.reply_status(STATUS)
    fake.reply_search(_answer)
    fake.reply_text(PATH, TEXT)
    fake.reply_text("/logs/copy.log", TEXT)
    link = EngineLink(data_dir, spawn=False, status_interval_ms=200)
    main = MainWindow(link, data_dir)
    qtbot.addWidget(main)
    main.show()
    with qtbot.waitSignal(link.connected, timeout=WAIT_MS):
        link.start()
    qtbot.waitUntil(lambda: bool(main._folders), timeout=WAIT_MS)
    yield main, fake
    link.close()
    fake.stop()


def test_a_3_mb_file_previews_the_part_around_its_passage(
    window: tuple[MainWindow, FakeEngine], qtbot: Any
) -> None:
    main, fake = window
    whole = protocol.FileText(path=PATH, text=TEXT, complete=True)
    assert len(protocol.encode(whole)) > 2 * protocol.MAX_MESSAGE_BYTES  # would be refused
    main.search_box.setText("backup")
    editor = main.preview.editor
    qtbot.waitUntil(lambda: len(editor.toPlainText()) > 100_000, timeout=WAIT_MS)
    (asked,) = fake.requests_of("get_text")
    assert (asked.path, asked.start, asked.end) == (PATH, START, END)
    shown = editor.toPlainText()
    offset = TEXT.index(shown)  # a part of the file's text, as it is
    assert 0 < offset <= START and END <= offset + len(shown) < len(TEXT)
    (passage, *_) = editor.extraSelections()
    assert passage.cursor.selectedText() == TEXT[START:END]  # marked where it really is
    assert passage.cursor.selectionStart() == START - offset  # (ASCII: one unit a character)
    note = main.preview._part_note
    assert note.isVisible()
    assert f"of {len(TEXT):,}" in note.text() and f"characters {offset + 1:,}" in note.text()

    # The next result starts its file's text at 0: its own part, from the top.
    main.results.setCurrentIndex(main.model.index(1, 0))
    qtbot.waitUntil(lambda: len(fake.requests_of("get_text")) == 2
                    and len(editor.toPlainText()) > 100_000, timeout=WAIT_MS)
    assert TEXT.startswith(editor.toPlainText())
    (passage, *_) = editor.extraSelections()
    assert passage.cursor.selectionStart() == 0
    assert note.isVisible()
