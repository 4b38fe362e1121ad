"""Open on a document inside an archive asks the engine for a private copy and opens that;
OCR's own line in the status bar follows the progress events' `ocr_` fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QListView

from desktop.engine_link import EngineLink
from desktop.engine_status import EngineStatusLine
from desktop.member_opener import is_member_entry
from desktop.result_actions import ResultActions
from engine.serve import protocol
from tests.helpers.fake_engine import FakeEngine

pytestmark = pytest.mark.gui

WAIT_MS = 5000
ENTRY = "/home/ann/bundle.zip › logs/log.pdf"
COPY = "/home/ann/.local/share/dowse/opened/member-x1/log.pdf"


def test_a_member_opens_as_the_copy_the_engine_unpacked(
    link: tuple[EngineLink, FakeEngine], qtbot: Any, tmp_path: Path,
) -> None:
    engine_link, fake = link
    fake.reply_member(ENTRY, COPY)
    view = QListView()
    qtbot.addWidget(view)
    actions = ResultActions(view, lambda _index: None, None, engine_link)
    opened: list[tuple[str, int | None]] = []
    actions.opener = lambda path, page: opened.append((path, page))
    actions.open_path(ENTRY)
    qtbot.waitUntil(lambda: opened == [(COPY, None)], timeout=WAIT_MS)
    revealed: list[str] = []
    actions.revealer = revealed.append
    actions.reveal_path(ENTRY)
    assert revealed == ["/home/ann/bundle.zip"]  # shown in its folder as its archive
    # A plain file opens as itself, even one whose name holds the separator.
    odd = tmp_path / "a › b.txt"
    odd.write_text("hello")
    actions.open_path(str(odd))
    assert opened[-1] == (str(odd), None) and not is_member_entry(str(odd))
    # A member the engine cannot unpack opens nothing; the window says why (request_failed).
    fake.reply_error("open_member", "failed", "cannot open: gone.zip is no longer there")
    with qtbot.waitSignal(engine_link.request_failed, timeout=WAIT_MS):
        actions.open_path("/home/ann/gone.zip › x.pdf")
    assert len(opened) == 2


def test_the_ocr_line_shows_pages_rate_and_time_left(
    status_line: tuple[EngineStatusLine, FakeEngine], qtbot: Any,
) -> None:
    line, fake = status_line
    assert line.ocr.isHidden()
    qtbot.waitUntil(lambda: fake.subscribers > 0, timeout=WAIT_MS)
    fake.push(protocol.Progress(
        queued=3, done=10, failed=0, bytes=0, rate=1.0, eta_seconds=3.0, current="",
        ocr_pages_done=40, ocr_pages_total=300, ocr_rate=1.3, ocr_eta_seconds=200.0))
    qtbot.waitUntil(lambda: line.ocr.isVisible(), timeout=WAIT_MS)
    assert line.ocr.text() == "Reading scanned pages: 40 of 300 · 1.3 pages/s · about 3 min left"
    fake.push(protocol.Progress(queued=0, done=13, failed=0, bytes=0, rate=1.0,
                                eta_seconds=None, current=""))
    qtbot.waitUntil(lambda: line.ocr.isHidden(), timeout=WAIT_MS)


def test_pages_are_asked_for_pdfs_packed_or_not_and_for_pictures() -> None:
    from desktop.result_preview import drawn_as_pages

    for path in ("/d/a.pdf", "/d/b.zip › x/y.PDF", "/d/log.pdf.gz", "/d/scan.pdf.xz",
                 "/d/receipt.png", "/d/fax.tiff", "/d/photo.JPG"):
        assert drawn_as_pages(path), path
    for path in ("/d/notes.txt", "/d/NEWS.gz", "/d/b.zip", "/d/b.tar.gz", "/d/a.docx"):
        assert not drawn_as_pages(path), path
