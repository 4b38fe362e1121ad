"""While passages wait for their vectors the app says so: a status-bar line fed by the progress
events, and a note above results found partly by their words only."""

from __future__ import annotations

from typing import Any

import pytest

from desktop.engine_status import EngineStatusLine
from desktop.result_notice import notice_for
from engine.serve import protocol
from tests.helpers.fake_engine import FakeEngine

pytestmark = pytest.mark.gui

WAIT_MS = 5000


def test_the_meaning_line_follows_the_progress_events(
    status_line: tuple[EngineStatusLine, FakeEngine], qtbot: Any,
) -> None:
    line, fake = status_line
    assert line.meaning.isHidden()
    qtbot.waitUntil(lambda: fake.subscribers > 0, timeout=WAIT_MS)
    fake.push(protocol.Progress(
        queued=0, done=1062, failed=0, bytes=0, rate=50.0, eta_seconds=None, current="",
        embedded=41_000, passages=100_000, meaning_rate=120.0, meaning_eta_seconds=491.0))
    qtbot.waitUntil(lambda: line.meaning.isVisible(), timeout=WAIT_MS)
    assert line.meaning.text() == "By meaning: 41% · 120 passages/s · about 8 min left"
    fake.push(protocol.Progress(queued=0, done=1062, failed=0, bytes=0, rate=1.0,
                                eta_seconds=None, current="", embedded=100_000,
                                passages=100_000))
    qtbot.waitUntil(lambda: line.meaning.isHidden(), timeout=WAIT_MS)


def test_results_found_before_their_meaning_say_so() -> None:
    hit = {"path": "/a.txt"}
    partial = {"query": "q", "results": [hit], "confident": True, "semantic_coverage": 0.41}
    assert notice_for(partial) == ("Meaning is still being indexed (41% of passages so far); "
                                   "the rest are found by their words.")
    assert notice_for({**partial, "semantic_coverage": 1.0}) == ""
    assert notice_for({"query": "q", "results": [hit], "confident": True}) == ""
    assert notice_for({"query": "q", "results": []}) == "Nothing found for “q”."
    assert notice_for({**partial, "confident": False}).startswith("No confident match")
