"""The screenshot of a picture OCR read (`make screenshots`): a photographed letter, drawn here
with known sentences on it, indexed by a real engine, found by its words, and shown in the
preview as the picture with the matched region marked (ocr-preview.png).

It needs Tesseract, as the engine's OCR does; where it is missing the scene is skipped, saying so.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QTransform
from PySide6.QtWidgets import QApplication, QWidget

from desktop.engine_link import EngineLink
from desktop.main_window import MainWindow
from desktop.theme import apply_theme

LETTER = (  # paragraphs; each is a passage of its own, so only the matched one is marked
    "Northgate Tyres & Service, 12 Harbour Road. Dear Ms Lindqvist, thank you for bringing "
    "your car to our workshop on the fourth of November. Our technician checked the brakes, "
    "the lights and the battery, and all three passed the seasonal safety inspection.",
    "We fitted two new winter tyres on the front axle, balanced both wheels and replaced the "
    "valves. The old summer tyres are stored in our hotel until April; bring this letter "
    "when you collect them. Storage is free for the first season.",
    "Keep this receipt as proof of purchase for the winter tyres. The manufacturer's warranty "
    "covers defects for five years from the date of fitting, and our own guarantee covers "
    "the fitting work for twelve months.",
    "Total paid by card: 208 euros, including fitting and balancing. We look forward to "
    "seeing you again for the spring change. Kind regards, the Northgate team.",
)
QUERY = "proof of purchase for the winter tyres"
TIMEOUT = 300.0  # model load, then the OCR run that follows the text-bearing files


def draw_receipt(path: Path, seed: int = 4) -> None:
    """The letter as a phone camera leaves it: greyish paper, turned a little, speckled."""
    width, pitch, margin = 900, 36, 56
    font = QFont("DejaVu Sans")
    font.setPixelSize(21)
    lines = _wrap(font, width - 2 * margin)
    page = QImage(width, margin * 2 + pitch * len(lines), QImage.Format.Format_Grayscale8)
    page.fill(QColor(246, 246, 242))
    painter = QPainter(page)
    painter.setFont(font)
    painter.setPen(QColor(30, 30, 30))
    for i, line in enumerate(lines):
        painter.drawText(QPointF(margin, margin + 24 + i * pitch), line)
    rng = random.Random(seed)
    for _ in range(5000):  # the grain of a photographed page
        grey = rng.randint(150, 225)
        painter.setPen(QColor(grey, grey, grey))
        painter.drawPoint(rng.randrange(width), rng.randrange(page.height()))
    painter.end()
    turned = page.transformed(QTransform().rotate(-1.2), Qt.TransformationMode.SmoothTransformation)
    canvas = QImage(turned.size(), QImage.Format.Format_Grayscale8)
    canvas.fill(QColor(246, 246, 242))  # the corners a turn leaves, as paper, not black
    painter = QPainter(canvas)
    painter.drawImage(QRectF(turned.rect()), turned)
    painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(str(path), "PNG")


def _wrap(font: QFont, usable: int) -> list[str]:
    """The letter's paragraphs as lines that fit, a blank line between paragraphs."""
    metrics = QFontMetrics(font)
    lines: list[str] = []
    for paragraph in LETTER:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}".strip()
            if current and metrics.horizontalAdvance(candidate) > usable:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines += [current, ""]
    return lines[:-1]


def shoot_ocr_scene(app: QApplication, out: Path, work: Path,
                    save: Callable[[QWidget, Path, str], None],
                    wait: Callable[[Callable[[], bool], float, str], None]) -> bool:
    """Write ocr-preview.png; False, with a line saying why, where Tesseract is missing."""
    if shutil.which("tesseract") is None:
        print("skipped ocr-preview.png: Tesseract is not installed "
              "(apt-get install tesseract-ocr)")
        return False
    folder, data = work / "Scans", work / "ocr-data"
    draw_receipt(folder / "receipt-tyres.png")
    apply_theme(app, "light")
    link = EngineLink(data)
    window = MainWindow(link, data)
    window.resize(1280, 800)
    window.show()
    window.splitter.setSizes([230, 470, 580])  # room for the picture in the preview
    status: dict[str, Any] = {}
    link.status_received.connect(status.update)
    link.start()
    try:
        wait(lambda: link.is_connected(), 60, "the engine")
        window.folders.pin_requested.emit(str(folder))
        wait(lambda: _read(status, folder), TIMEOUT, "the receipt to be read")
        window.search_box.setText(QUERY)
        wait(lambda: window.model.rowCount() > 0, 60, "the receipt among the results")
        window.results.setCurrentIndex(window.model.index(0, 0))
        preview = window.preview
        preview.view_switch.choose(True)
        wait(lambda: preview.showing_page and bool(preview.page_view.canvas.regions), 60,
             "the picture with its matched region")
        try:  # the status line catches up with the model the engine loaded meanwhile
            wait(lambda: "Loading" not in window.engine_label.text(), 20, "the status line")
        except TimeoutError:
            pass
        save(window, out, "ocr-preview")
        return True
    finally:
        link.shutdown_engine()
        wait(lambda: not link.is_connected(), 30, "the engine to stop")
        link.close()
        window.close()


def _read(status: dict[str, Any], folder: Path) -> bool:
    """The folder indexed and no scanned page left to read."""
    folders = status.get("folder_list") or []
    indexed = any(row.get("path") == str(folder) and row.get("indexed") for row in folders)
    ocr = status.get("ocr") or {}
    read = ocr.get("pages_total", 0) > 0 and ocr.get("pages_done") == ocr.get("pages_total")
    return indexed and not status.get("queue") and read
