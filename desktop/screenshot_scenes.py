"""The screenshots of what makes results trustworthy at a glance: a PDF result with its page, copies
collapsed into one result, the weaker-matches divider and "more like this".

They run over the stand-in engine of the GUI tests (`tests/helpers/fake_engine.py`), answering
with scripted results over the demo folder; the page is a real PDF drawn with pypdfium2, as the
engine draws it. Part of `make screenshots` (`desktop/screenshots.py`).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from desktop.engine_link import EngineLink
from desktop.main_window import MainWindow
from desktop.theme import apply_theme

PDF_NAME = "research/arctic-tern-field-report.pdf"
COPIES = ("archive/2025/bird-migration (copy).txt", "Downloads/bird-migration.md")
WEAK = ("travel/iceland-trip.md", "research/sleep-and-memory.md", "travel/packing-list.txt")
# How much each word carried the match, for the highlights (a real engine explains this).
WEIGHTS = {"migration": 0.9, "longest": 1.0, "animal": 0.7, "arctic": 0.5, "terns": 0.6,
           "year": 0.4, "kilometres": 0.5, "flying": 0.6, "puffins": 0.5, "nest": 0.2,
           "trekking": 0.2, "replays": 0.2}


def _spans(text: str, offset: int) -> list[list[float]]:
    return [[offset + m.start(), offset + m.end(), WEIGHTS[m.group().lower()]]
            for m in re.finditer(r"\w+", text) if m.group().lower() in WEIGHTS]


def _row(folder: Path, rel: str, text: str, start: int, score: float, confident: bool,
         query: str, page: int | None = None, also_in: tuple[str, ...] = ()) -> dict[str, Any]:
    query_spans = [[m.start(), m.end(), w] for m in re.finditer(r"\w+", query)
                   if (w := {"animal": 0.8, "flies": 0.7, "farthest": 1.0,
                             "year": 0.3}.get(m.group().lower(), 0.05))]
    return {
        "path": str(folder / rel), "page": page, "start": start, "end": start + len(text),
        "heading": None, "text": text, "score": score, "mtime": 1796000000.0, "more": [],
        "confident": confident,
        "also_in": [{"path": str(folder / c), "page": None, "start": 0, "end": len(text)}
                    for c in also_in],
        "explanation": {"passage_spans": _spans(text, start), "query_spans": query_spans,
                        "pairs": [], "keyword_spans": [], "reason": ""},
    }


def _answer(folder: Path, demo: dict[str, str], report: str, passage: str, query: str
            ) -> dict[str, Any]:
    start = report.index(passage)
    rows = [
        _row(folder, PDF_NAME, passage, start, 0.92, True, query, page=2),
        _row(folder, "research/bird-migration.txt", demo["research/bird-migration.txt"], 0,
             0.88, True, query, also_in=COPIES),
    ]
    for score, rel in zip((0.41, 0.33, 0.29), WEAK, strict=True):
        text = demo[rel].split("\n\n")[-1]
        rows.append(_row(folder, rel, text, demo[rel].index(text), score, False, query))
    return {"query": query, "mode": "hybrid", "confident": True, "elapsed_ms": 12.0,
            "results": rows}


def shoot_trust_scenes(app: QApplication, out: Path, folder: Path, demo: dict[str, str],
                       query: str, save: Callable[[QWidget, Path, str], None],
                       wait: Callable[[Callable[[], bool], float, str], None]) -> None:
    """Write pdf-page.png, duplicates.png, weaker-matches.png and more-like-this.png."""
    from tests.helpers.demo_pages import REPORT_PAGES, render_page, write_report_pdf
    from tests.helpers.fake_engine import FakeEngine

    pdf = folder / PDF_NAME
    pdf.parent.mkdir(parents=True, exist_ok=True)
    write_report_pdf(pdf)
    for rel in COPIES:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(demo["research/bird-migration.txt"] + "\n", encoding="utf-8")
    report = "\n\n".join("\n\n".join((heading, *paragraphs))
                         for heading, paragraphs in REPORT_PAGES)
    passage = REPORT_PAGES[1][1][0]
    answer = _answer(folder, demo, report, passage, query)

    data = Path(tempfile.mkdtemp(prefix="dowse-shots-fake-"))
    fake = FakeEngine(data).start()
    fake.reply_status({"engine": {"state": "running", "activity": "idle"}, "queue": 0,
                       "files": 14, "indexed": 14, "passages": 41, "device": "cpu",
                       "precision": "bf16", "note": "CPU bf16", "model": "all-MiniLM-L6-v2",
                       "folder_list": [{"path": str(folder), "state": "idle", "files": 14,
                                        "indexed": 14, "failed": 0, "skipped": 0,
                                        "queued": 0, "watch": "live", "paused": False}]})
    fake.reply_search(answer)
    fake.reply_text(str(pdf), report)
    for rel, text in demo.items():
        fake.reply_text(str(folder / rel), text)
    fake.reply_page(str(pdf), *render_page(pdf, 2, passage, 900))
    like = [answer["results"][1], answer["results"][0] | {"confident": True},
            *answer["results"][2:]]
    fake.reply_similar({"query": "", "mode": "similar", "confident": True, "elapsed_ms": 3.0,
                        "results": like})

    apply_theme(app, "light")
    link = EngineLink(data, spawn=False, status_interval_ms=0)
    window = MainWindow(link, data)
    window.resize(1280, 800)
    window.show()
    window.splitter.setSizes([230, 520, 530])  # room for the page in the preview
    link.start()
    try:
        wait(lambda: link.is_connected() and bool(window._folders), 30, "the stand-in engine")
        window.search_box.setText(query)
        wait(lambda: window.model.rowCount() == len(answer["results"]), 30, "results")
        preview = window.preview
        wait(lambda: preview.showing_page, 30, "the PDF page")
        save(window, out, "pdf-page")

        window.results.setCurrentIndex(window.model.index(1, 0))
        wait(lambda: preview.copies.isVisible(), 10, "the copies")
        save(window, out, "duplicates")

        window.results.setCurrentIndex(window.model.index(2, 0))
        save(window, out, "weaker-matches")

        window.results.setCurrentIndex(window.model.index(0, 0))
        window.results.setFocus(Qt.FocusReason.OtherFocusReason)
        window.result_actions.find_similar_current()
        wait(lambda: window.similar_header.isVisible() and window.model.query == "", 30,
             "more like this")
        save(window, out, "more-like-this")
    finally:
        link.close()
        window.close()
        fake.stop()
