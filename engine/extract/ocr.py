"""Read the words in a picture of a page, and where each one is, with the Tesseract command line.

Tesseract was chosen over rapidocr-onnxruntime by measurement on the same pages
(bench/ocr_throughput.py, BENCHMARKS.md section "ocr"): it read them with about a tenth of the
character errors, and faster. It is a system package (Debian's `tesseract-ocr`), so where it
is missing OCR is off with that reason (`dowse doctor` says how to install it).
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.config import OcrConfig
from engine.extract.deskew import box_before_turn, straightened

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

ENGINE_NAME = "tesseract"
INSTALL_HINT = "install Tesseract (Debian/Ubuntu: apt-get install tesseract-ocr)"
# Tesseract's OCR is at its best with capital letters 20 to 40 pixels tall; pages are read at
# most this many pixels on their long side, which keeps an A4 page near 250 dpi.
MAX_SIDE = 3000
# A word is kept when Tesseract is at least this sure of it; below, it is mostly texture
# (a photo's foliage, a table rule) read as letters.
MIN_WORD_CONFIDENCE = 30.0
# One page never takes longer than this; a page that does is read as empty.
PAGE_TIMEOUT = 60.0
# Address space of one Tesseract process: far above what a page needs, far below a runaway.
TESSERACT_MEMORY = 1024**3


@dataclass(frozen=True)
class WordBox:
    """One word of a page's text and the rectangle it was read from."""

    start: int  # character offsets into PageText.text
    end: int
    # Edges as fractions of the page's width and height (0..1), so any rendering size works.
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class PageText:
    """What OCR read on one page: its text, a line per line seen, and each word's box."""

    text: str
    words: tuple[WordBox, ...] = ()


class OcrUnavailableError(RuntimeError):
    """OCR cannot run here: Tesseract or the chosen languages are not installed."""


@functools.cache
def tesseract_command() -> str | None:
    return shutil.which("tesseract")


@functools.cache
def tesseract_version() -> str | None:
    command = tesseract_command()
    if command is None:
        return None
    try:
        done = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0].strip() if lines else None


@functools.cache
def installed_languages() -> frozenset[str]:
    command = tesseract_command()
    if command is None:
        return frozenset()
    try:
        done = subprocess.run(
            [command, "--list-langs"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    lines = (done.stdout + done.stderr).splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip() and " " not in line)


def unavailable_reason(config: OcrConfig) -> str | None:
    """Why OCR will not run with these settings, or None when it will."""
    if not config.enabled:
        return "OCR is turned off ([ocr] enabled = false)"
    if tesseract_command() is None:
        return f"OCR needs Tesseract, which is not installed: {INSTALL_HINT}"
    if not usable_languages(config):
        wanted = ", ".join(config.languages) or "none"
        return f"Tesseract has no data for the OCR languages ({wanted}): install tesseract-ocr-LANG"
    return None


def usable_languages(config: OcrConfig) -> list[str]:
    """The configured languages that Tesseract has data for, in the configured order."""
    have = installed_languages()
    return [lang for lang in config.languages if lang in have]


class PageReader:
    """Reads one page at a time with a fresh `tesseract` process, in the configured languages."""

    def __init__(self, config: OcrConfig) -> None:
        reason = unavailable_reason(config)
        if reason is not None:
            raise OcrUnavailableError(reason)
        self.command = tesseract_command() or "tesseract"
        self.languages = "+".join(usable_languages(config))
        # Tesseract's OpenMP threads spin while they wait: on a busy machine two threads read a
        # page 70 times slower than one (15 s against 0.2 s, here). So one, unless told.
        self.threads = max(1, config.threads or 1)

    def read(self, image: Image.Image) -> PageText:
        """The words on `image`; one with no text (a photo) comes back empty in a blink."""
        page = _prepared(image)
        turned, angle = straightened(page)
        buffer = io.BytesIO()
        turned.save(buffer, "PNG", compress_level=1)
        env = {**os.environ, "OMP_THREAD_LIMIT": str(self.threads)}
        try:
            done = subprocess.run(
                [self.command, "stdin", "stdout", "-l", self.languages, "--psm", "3", "tsv"],
                input=buffer.getvalue(), capture_output=True, env=env, timeout=PAGE_TIMEOUT,
                preexec_fn=_limit_child if sys.platform == "linux" else None,
            )
        except subprocess.TimeoutExpired:
            log.warning("tesseract took over %g s on one page; read as empty", PAGE_TIMEOUT)
            return PageText("")
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise OSError(f"tesseract failed: {reason[-1] if reason else done.returncode}")
        read = parse_tsv(done.stdout.decode("utf-8", errors="replace"), turned.size)
        return _unturned(read, turned.size, page.size, angle) if angle else read


def _unturned(
    page: PageText, turned: tuple[int, int], size: tuple[int, int], angle: float
) -> PageText:
    """Word boxes read on the straightened page, placed on the page as it was given."""
    words = []
    for w in page.words:
        pixels = (w.x0 * turned[0], w.y0 * turned[1], w.x1 * turned[0], w.y1 * turned[1])
        x0, y0, x1, y1 = box_before_turn(pixels, turned, size, angle)
        words.append(WordBox(
            w.start, w.end, _fraction(x0, size[0]), _fraction(y0, size[1]),
            _fraction(x1, size[0]), _fraction(y1, size[1]),
        ))
    return PageText(page.text, tuple(words))


def _prepared(image: Image.Image) -> Image.Image:
    """A greyscale copy at most MAX_SIDE on its long side, transparency composited on white."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = image.point(lambda v: v / 256)  # 16-bit scans: keep the contrast
    grey = image.convert("L")
    if max(grey.size) > MAX_SIDE:
        grey.thumbnail((MAX_SIDE, MAX_SIDE))
    return grey


def _limit_child() -> None:
    """In the Tesseract process, before it starts: die with the extractor, cap its memory."""
    import ctypes
    import resource
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        resource.setrlimit(resource.RLIMIT_AS, (TESSERACT_MEMORY, TESSERACT_MEMORY))
    except (OSError, ValueError, AttributeError):
        pass


def parse_tsv(tsv: str, size: tuple[int, int]) -> PageText:
    """Tesseract's word table as text in reading order: a space between words, a newline
    between lines, a blank line between paragraphs; each word with its box."""
    width, height = size
    parts: list[str] = []
    words: list[WordBox] = []
    offset = 0
    last_line: tuple[str, ...] | None = None
    last_paragraph: tuple[str, ...] | None = None
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text or _confidence(row) < MIN_WORD_CONFIDENCE:
            continue
        paragraph = (row["page_num"], row["block_num"], row["par_num"])
        line = (*paragraph, row["line_num"])
        sep = "" if not parts else " " if line == last_line else (
            "\n" if paragraph == last_paragraph else "\n\n"
        )
        parts.append(sep)
        offset += len(sep)
        left, top = int(row["left"]), int(row["top"])
        right, bottom = left + int(row["width"]), top + int(row["height"])
        words.append(WordBox(
            offset, offset + len(text), _fraction(left, width), _fraction(top, height),
            _fraction(right, width), _fraction(bottom, height),
        ))
        parts.append(text)
        offset += len(text)
        last_line, last_paragraph = line, paragraph
    return PageText("".join(parts), tuple(words))


def _confidence(row: dict[str, str]) -> float:
    try:
        return float(row.get("conf") or -1)
    except ValueError:
        return -1.0


def _fraction(value: float, whole: int) -> float:
    return min(max(value / whole, 0.0), 1.0) if whole > 0 else 0.0


def has_words(page: PageText, minimum: int = 1) -> bool:
    """Whether OCR found at least `minimum` real words: two or more letters or digits."""
    return sum(1 for w in page.words if _real(page.text[w.start : w.end])) >= minimum


def _real(word: str) -> bool:
    return sum(ch.isalnum() for ch in word) >= 2


