"""Renders the app's main states to PNGs over a real engine and a demo folder (`make screenshots`).

    python -m desktop.screenshots docs/screenshots [--trust-only | --ocr-only]

A picture OCR read, with its matched region marked, follows over a real engine
(`desktop/screenshot_ocr.py`; skipped, saying so, without Tesseract); then the scenes of
`desktop/screenshot_scenes.py` (a PDF page, copies, the weaker-matches divider, "more like
this") over the tests' stand-in engine. `--trust-only` or `--ocr-only` renders just those.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from desktop.engine_link import EngineLink
from desktop.main_window import MainWindow
from desktop.results_model import ResultRole
from desktop.screenshot_ocr import shoot_ocr_scene
from desktop.screenshot_scenes import shoot_trust_scenes
from desktop.theme import apply_theme

DEMO = {
    "travel/iceland-trip.md": (
        "# Iceland, June\n\nWe drove the ring road counter-clockwise. The glacier lagoon at "
        "Jökulsárlón was full of blue icebergs drifting out to sea, and seals slept on the black "
        "sand beach. Book the boat tour a day ahead; it sells out by noon.\n\nThe puffins on the "
        "Westman Islands nest in burrows on the cliffs from May to August."
    ),
    "travel/packing-list.txt": (
        "Packing list for the hiking week: rain jacket, wool socks, trekking poles, a head "
        "torch, blister plasters, water filter, and the paper map of the national park."
    ),
    "kitchen/sourdough.md": (
        "# Sourdough notes\n\nFeed the starter twice a day with equal weights of flour and "
        "water. The dough is ready for shaping when it has grown by half and jiggles. A long "
        "cold proof in the fridge overnight gives a more sour loaf and a blistered crust."
    ),
    "kitchen/tomato-soup.txt": (
        "Roast the tomatoes with garlic and thyme for forty minutes, then blend with stock. "
        "A spoon of butter at the end makes the soup glossy."
    ),
    "work/q3-budget-review.md": (
        "# Q3 budget review\n\nMarketing spent 12% over plan because of the trade fair in "
        "Lyon. Engineering stayed within budget. For Q4 we freeze new hires until the board "
        "meeting in November and move the rebrand to next year."
    ),
    "work/meeting-notes-2026-10-02.txt": (
        "Decisions: the mobile release slips two weeks so the accessibility fixes can land. "
        "Priya owns the screen-reader audit; Tom will write the migration guide for the new API."
    ),
    "research/bird-migration.txt": (
        "Arctic terns make the longest migration of any animal, flying from the Arctic to the "
        "Antarctic and back each year, about seventy thousand kilometres. Geolocators show "
        "they follow winds in a zig-zag over the Atlantic rather than the shortest route."
    ),
    "research/sleep-and-memory.md": (
        "# Sleep and memory\n\nDuring slow-wave sleep the hippocampus replays the day's "
        "experiences, and this replay helps move memories into the cortex for long-term "
        "storage. Students who slept after learning word pairs recalled more of them."
    ),
    "home/boiler-manual.txt": (
        "If the boiler pressure drops below one bar, open the filling loop slowly until the "
        "gauge reads 1.5 bar. Error code F22 means low water pressure; F28 means no ignition."
    ),
    "home/lease.txt": (
        "The tenant must give two months' written notice before moving out. The deposit is "
        "returned within thirty days after the final inspection of the flat."
    ),
}
QUERY = "which animal flies the farthest each year"
FILLER_TOPICS = (
    "Invoice for office chairs and desks, paid by bank transfer within thirty days.",
    "Minutes of the parents' association: the school fair moves to the sports hall.",
    "Car service record: oil change, new brake pads, tyre pressure checked.",
    "Garden plan: plant the tulip bulbs in October and prune the roses in March.",
    "Electricity bill for the flat, estimated reading, direct debit on the first.",
)


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)


def _settle(ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _save(widget: QWidget, out: Path, name: str) -> None:
    _settle()
    widget.grab().save(str(out / f"{name}.png"))
    print(f"wrote {out / name}.png")


def write_demo(folder: Path, filler: int) -> None:
    for rel, text in DEMO.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    (folder / "work" / "broken-contract.docx").write_bytes(b"PK\x03\x04 not really a zip")
    archive = folder / "archive"
    archive.mkdir(exist_ok=True)
    for i in range(filler):  # enough work that indexing is still under way for a screenshot
        topic = FILLER_TOPICS[i % len(FILLER_TOPICS)]
        (archive / f"{topic.split()[0].lower()}-{i:04d}.txt").write_text(
            f"{topic} (record {i}). " + " ".join([topic] * 6) + "\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--trust-only", action="store_true",
                      help="only the scenes over the stand-in engine")
    only.add_argument("--ocr-only", action="store_true",
                      help="only the picture OCR read, over a real engine")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dowse-shots-"))
    os.environ.setdefault("DOWSE_RUNTIME_DIR", tempfile.mkdtemp(prefix="dw-"))
    folder, data = work / "Documents", work / "data"
    write_demo(folder, filler=0 if args.trust_only or args.ocr_only else 600)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    try:
        if not (args.trust_only or args.ocr_only):
            _shoot_real_engine(app, out, folder, data)
        if not args.trust_only:
            shoot_ocr_scene(app, out, work, _save, _wait)
        if not args.ocr_only:
            shoot_trust_scenes(app, out, folder, DEMO, QUERY, _save, _wait)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _shoot_real_engine(app: QApplication, out: Path, folder: Path, data: Path) -> None:
    apply_theme(app, "light")
    link = EngineLink(data)
    window = MainWindow(link, data)
    window.resize(1280, 800)
    window.show()
    link.start()
    try:
        _wait(lambda: link.is_connected() and bool(window.engine_label.text()), 60, "engine")
        _wait(lambda: window.center.currentWidget() is window.onboarding, 10, "onboarding")
        _save(window, out, "onboarding")

        window.folders.pin_requested.emit(str(folder))
        _wait(lambda: "files to go" in window.engine_label.text(), 120, "indexing progress")
        _save(window, out, "indexing")
        _wait(lambda: bool(window._folders) and window._folders[0]["queued"] == 0, 600,
              "indexing to finish")

        window.search_box.setText(QUERY)
        _wait(lambda: window.model.rowCount() > 0
              and bool(window.model.index(0, 0).data(ResultRole.Explained)), 60, "results")
        _save(window, out, "results")

        chips = window.query_words.chips
        if chips:  # pin the query word that carried most of the match, as a click would
            strongest = max(chips, key=lambda chip: chip.strength)
            strongest.clicked.emit(strongest)
            _save(window, out, "pair-hover")
            strongest.clicked.emit(strongest)

        window.results.setCurrentIndex(window.model.index(min(1, window.model.rowCount() - 1), 0))
        _settle(800)
        _save(window, out, "preview")

        window._show_errors()
        dialog = window._errors_dialog
        assert dialog is not None
        _wait(lambda: bool(dialog.visible_paths()), 30, "errors")
        _save(dialog, out, "errors")
        dialog.close()

        apply_theme(app, "dark")
        window.results.setCurrentIndex(window.model.index(0, 0))
        _save(window, out, "dark")
    finally:
        link.shutdown_engine()
        _settle(1500)
        link.close()
        window.close()


if __name__ == "__main__":
    sys.exit(main())
