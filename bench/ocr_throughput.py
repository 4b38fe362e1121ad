"""OCR accuracy and speed: Dowse's OCR stage against the `tesseract` command line, same pages.

The candidate Dowse did not choose, rapidocr-onnxruntime, is read too when it is installed
(bench/ocr_candidates.py): these are the numbers the choice was made on.

Pages are drawn with Pillow (tests/helpers/scans.py): known sentences in several fonts and
sizes, turned by up to 3 degrees, blurred a little and speckled with noise. Each engine reads
every page from the same PNG file in the same run; the character error rate (CER) is the edit
distance between what it read and the sentences drawn, over the length of the sentences, with
runs of whitespace counted as one space. Word recall is the share of the drawn words that
appear among the words read (case and punctuation ignored), which is what a keyword search
needs. Usage:

    .venv/bin/python bench/ocr_throughput.py [--pages 24] [--threads 1] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from bench.benchmarks_md import write_section  # noqa: E402
from bench.ocr_candidates import RapidReader, rapidocr_available  # noqa: E402
from engine.config import OcrConfig  # noqa: E402
from engine.extract.ocr import PageReader  # noqa: E402
from tests.helpers.scans import SENTENCES, Style, render, styles, wrap  # noqa: E402

_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def word_recall(reference: str, read: str) -> tuple[int, int]:
    wanted = _WORD.findall(reference.lower())
    have = set(_WORD.findall(read.lower()))
    return sum(w in have for w in wanted), len(wanted)


def make_pages(folder: Path, count: int) -> list[tuple[Path, str, Style]]:
    pages = []
    for i, style in enumerate(styles(count)):
        chosen = [SENTENCES[(i * 5 + k) % len(SENTENCES)] for k in range(5)]
        lines = wrap(chosen, style)
        path = folder / f"page{i:03d}.png"
        render(lines, style, seed=i).save(path)
        pages.append((path, "\n".join(lines), style))
    return pages


def timed_reads(
    pages: list[tuple[Path, str, Style]], read: Callable[[Image.Image], str]
) -> tuple[list[str], float, float]:
    """Texts read from every page's file, the seconds they took, and the first call's cost
    on a warm-up page (model loading), timed apart."""
    started = time.perf_counter()
    with Image.open(pages[0][0]) as warm:
        read(warm)
    load = time.perf_counter() - started
    texts = []
    started = time.perf_counter()
    for path, _, _ in pages:
        with Image.open(path) as image:
            texts.append(read(image))
    return texts, time.perf_counter() - started, load


def run_tesseract(
    pages: list[tuple[Path, str, Style]], threads: int
) -> tuple[list[str], float, float]:
    env = {**os.environ, "OMP_THREAD_LIMIT": str(threads)}
    texts = []
    started = time.perf_counter()
    for path, _, _ in pages:
        done = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", "eng", "--psm", "3"],
            capture_output=True, text=True, env=env, check=True,
        )
        texts.append(done.stdout)
    return texts, time.perf_counter() - started, 0.0


def score(pages: list[tuple[Path, str, Style]], texts: list[str]) -> dict[str, float]:
    errors = chars = found = words = 0
    errors_nospace = chars_nospace = 0
    for (_, reference, _), read in zip(pages, texts, strict=True):
        ref, got = normalise(reference), normalise(read)
        errors += edit_distance(ref, got)
        chars += len(ref)
        errors_nospace += edit_distance(ref.replace(" ", ""), got.replace(" ", ""))
        chars_nospace += len(ref.replace(" ", ""))
        hit, total = word_recall(reference, read)
        found += hit
        words += total
    return {
        "cer": errors / chars, "cer_nospace": errors_nospace / chars_nospace,
        "recall": found / words,
    }


def per_style(pages: list[tuple[Path, str, Style]], texts: list[str]) -> list[float]:
    return [
        edit_distance(normalise(ref), normalise(read)) / max(len(normalise(ref)), 1)
        for (_, ref, _), read in zip(pages, texts, strict=True)
    ]


def tesseract_version() -> str | None:
    if shutil.which("tesseract") is None:
        return None
    done = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    return (done.stdout or done.stderr).splitlines()[0].strip()


def lscpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "lscpu unavailable"
    keep = ("Model name", "CPU(s):", "Thread(s) per core", "Flags")
    lines = [" ".join(line.split()) for line in out.splitlines() if line.strip().startswith(keep)]
    return "; ".join(
        line if not line.startswith("Flags") else "Flags: avx2" * ("avx2" in line)
        + " avx512f" * ("avx512f" in line)
        for line in lines
    )


ENGINES = (
    ("dowse", "Dowse OCR stage (Tesseract, straightened pages, word boxes)"),
    ("tesseract", "`tesseract` CLI as is ({version}, eng, --psm 3)"),
    ("rapidocr", "rapidocr-onnxruntime 1.4.4 as shipped (PP-OCRv4, angle classifier on)"),
    ("rapidocr-tuned", "rapidocr-onnxruntime 1.4.4, classifier off, spaces put back"),
)


def choice(results: dict[str, tuple[list[str], float, float]],
           pages: list[tuple[Path, str, Style]]) -> str:
    """Why Dowse reads with Tesseract, in this run's numbers."""
    dowse = score(pages, results["dowse"][0])
    text = (
        f"**Choice: Tesseract.** Dowse's stage on Tesseract read {dowse['cer']:.2%} of the "
        f"characters wrong and found {dowse['recall']:.1%} of the words"
    )
    rapid = [k for k in ("rapidocr-tuned", "rapidocr") if k in results]
    if not rapid:
        return text + "; RapidOCR was not measured in this run."
    best = min(rapid, key=lambda k: score(pages, results[k][0])["cer"])
    other = score(pages, results[best][0])
    speed = results[best][1] / results["dowse"][1]
    return text + (
        f"; RapidOCR at its best here ({best}) {other['cer']:.2%} and {other['recall']:.1%},"
        f" {speed:.1f} times slower a page. Its packaged PP-OCRv4 model reads Chinese and"
        " English together and drops the spaces between English words, which costs keyword"
        " search whole words. Tesseract is a system package, not a pip one: where it is"
        " missing OCR is off, `dowse doctor`, `make run`/`make test` and `install.sh` say how"
        " to install it, and its tests skip with that reason."
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="threads per page, each engine")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    version = tesseract_version()
    if version is None:
        print("Tesseract is not installed here (apt-get install tesseract-ocr): Dowse's OCR "
              "stage uses it, so there is nothing to measure.")
        return 0
    results: dict[str, tuple[list[str], float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pages = make_pages(Path(tmp), args.pages)
        reader = PageReader(OcrConfig(threads=args.threads))
        results["dowse"] = timed_reads(pages, lambda image: reader.read(image).text)
        results["tesseract"] = run_tesseract(pages, args.threads)
        if rapidocr_available():
            for key, tuned in (("rapidocr", False), ("rapidocr-tuned", True)):
                rapid = RapidReader(args.threads, tuned)
                results[key] = timed_reads(pages, rapid.read)
    n = len(pages)
    rows = [
        "| engine | CER | CER, spaces ignored | word recall | pages/s | s/page | first call s |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in ENGINES:
        if key not in results:
            continue
        texts, seconds, load = results[key]
        got = score(pages, texts)
        rows.append(
            f"| {label.format(version=version)} | {got['cer']:.2%} | {got['cer_nospace']:.2%} |"
            f" {got['recall']:.1%} | {n / seconds:.2f} | {seconds / n:.2f} | {load:.2f} |"
        )
    missing = "" if rapidocr_available() else (
        "rapidocr-onnxruntime is not installed in this venv "
        "(`pip install rapidocr-onnxruntime==1.4.4`): its rows are left out."
    )
    dowse_texts = results["dowse"][0]
    worst = sorted(zip(per_style(pages, dowse_texts), pages, strict=True), key=lambda t: -t[0])
    body = "\n".join([
        f"{n} pages, 1000 px wide, {sum(len(normalise(p[1])) for p in pages):,} characters; "
        f"fonts {', '.join(sorted({Path(p[2].font).stem or 'Pillow default' for p in pages}))};"
        " 16 to 30 px, turned up to 3 degrees, blurred 0.6 px, grey noise sigma 8 to 30. "
        f"Every engine on {args.threads} thread(s) per page (OMP_THREAD_LIMIT for Tesseract,"
        " ONNX Runtime intra-op threads for RapidOCR), reading the same PNG files in one run.",
        "",
        f"lscpu: {lscpu()}",
        "",
        *rows,
        "",
        f"Speed ratio Dowse/Tesseract CLI: {results['tesseract'][1] / results['dowse'][1]:.2f}x"
        " (Dowse straightens each page first: its cost, and why its CER is lower).",
        missing,
        "",
        choice(results, pages),
        "Hardest pages for Dowse: " + "; ".join(
            f"{p[2].label}: CER {c:.1%}" for c, p in worst[:3]
        ) + ".",
    ])
    print(body)
    for key in results:
        print(f"\n{key}:", normalise(results[key][0][0])[:160])
    if not args.no_write:
        command = f"python bench/ocr_throughput.py --pages {args.pages} --threads {args.threads}"
        write_section("ocr", command, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
