"""Pictures of pages indexed through the real pipeline: extraction children, chunker, store.

Sentences are drawn with Pillow in several fonts and sizes, a few degrees askew and noisy,
as PNG, JPEG, a two-page TIFF and an image-only PDF, beside a text file and a photo. A
keyword search (and, marked `model`, a search by meaning) must find each sentence in the
right file on the right page; the photo is recorded as having no text. Skips, saying so,
where Tesseract is not installed.
"""

from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path

import pytest

from engine.cli.render import print_summary
from engine.config import Config, OcrConfig
from engine.core import Engine
from engine.extract.ocr import tesseract_command
from engine.ingest.indexer import Indexer
from engine.ingest.ocr_pool import OcrPool
from engine.ingest.ocr_stage import OcrStage
from engine.ingest.walk import FolderWalker
from engine.search.regions import has_ocr_regions, ocr_regions
from engine.store import ocr_pending
from engine.store.queue import next_batch
from tests.helpers.scans import SENTENCES, Style, fonts, image_pdf, photo, render, wrap

pytestmark = pytest.mark.skipif(
    tesseract_command() is None, reason="tesseract not installed (apt-get install tesseract-ocr)"
)

# (file, page, sentence, style index)
PLANTED = (
    ("receipt.png", 1, SENTENCES[4], 0),
    ("lease.jpg", 1, SENTENCES[1], 1),
    ("fax.tiff", 1, SENTENCES[6], 2),
    ("fax.tiff", 2, SENTENCES[13], 3),
    ("copier.pdf", 1, SENTENCES[11], 0),
    ("copier.pdf", 2, SENTENCES[19], 1),
)


def styles() -> list[Style]:
    have = fonts()
    return [Style(have[0], 20, 2.0, 20), Style(have[1 % len(have)], 26, -1.5, 12),
            Style(have[2 % len(have)], 18, 0.8, 25), Style("", 22, -2.4, 15)]


def page_image(sentence: str, style_index: int, seed: int):  # type: ignore[no-untyped-def]
    style = styles()[style_index]
    return render(wrap([sentence], style, width=800), style, width=800, seed=seed)


def build_folder(root: Path) -> Path:
    root.mkdir()
    images = {(name, p): page_image(s, i, seed=n) for n, (name, p, s, i) in enumerate(PLANTED)}
    images[("receipt.png", 1)].save(root / "receipt.png")
    images[("lease.jpg", 1)].convert("RGB").save(root / "lease.jpg", quality=85)
    images[("fax.tiff", 1)].save(root / "fax.tiff", save_all=True,
                                 append_images=[images[("fax.tiff", 2)]])
    (root / "copier.pdf").write_bytes(
        image_pdf([images[("copier.pdf", 1)], images[("copier.pdf", 2)]])
    )
    photo((640, 420)).save(root / "holiday.jpg", quality=85)
    (root / "notes.txt").write_text("The allotment committee meets on the first Sunday.\n")
    return root


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Engine]:
    root = build_folder(tmp_path_factory.mktemp("scans") / "docs")
    engine = Engine(tmp_path_factory.mktemp("data"))
    summary = engine.index([root], keyword_only=True)
    assert summary.failed == [], summary.failed
    assert summary.indexed == 5  # four pictures of pages and the text file
    # The text first, the pictures' pages after it: the summary says when each was findable.
    assert summary.ocr_pages == 6  # receipt, lease, fax (2), copier (2); the photo has none
    assert summary.ocr_seconds is not None and summary.ocr_seconds >= summary.words_seconds
    printed = io.StringIO()
    print_summary(summary, printed)
    assert f"({summary.ocr_seconds:.1f}s with the 6 pages read by OCR)" in printed.getvalue()
    yield root, engine
    engine.close()


@pytest.mark.parametrize(("name", "page", "sentence", "style"), PLANTED)
def test_keyword_search_finds_each_planted_sentence_on_its_page(
    indexed: tuple[Path, Engine], name: str, page: int, sentence: str, style: int
) -> None:
    root, engine = indexed
    words = [w.strip(".,") for w in sentence.split() if len(w) > 5][:3]
    response = engine.search(" ".join(words), mode="keyword")
    best = response.results[0].best
    assert (best.path, best.page) == (str(root / name), page), [
        (r.best.path, r.best.page) for r in response.results
    ]


def test_a_photo_is_recorded_as_no_text_not_as_an_error(indexed: tuple[Path, Engine]) -> None:
    root, engine = indexed
    problems = {path: (state, reason) for path, state, reason in engine.store.errors()}
    state, reason = problems[str(root / "holiday.jpg")]
    assert state == "skipped" and reason.startswith("no text")
    assert engine.status()["failed"] == 0


def test_word_boxes_are_stored_for_the_preview(indexed: tuple[Path, Engine]) -> None:
    root, engine = indexed
    path = str(root / "copier.pdf")
    response = engine.search("certificate boiler safety", mode="keyword")
    hit = response.results[0].best
    assert hit.path == path and hit.page == 1
    marked = ocr_regions(engine.store, path, 1, hit.start, hit.end)
    text = engine.store.file_text(path) or ""
    assert {"certificate", "boiler"} <= {text[r.start : r.end].lower() for r in marked}
    assert all(0 <= r.x0 < r.x1 <= 1 and 0 <= r.y0 < r.y1 <= 1 for r in marked)
    assert has_ocr_regions(engine.store, path, 2)
    assert not has_ocr_regions(engine.store, str(root / "notes.txt"), 1)
    assert engine.status()["ocr"]["pages_total"] == 0  # nothing left to read


def test_a_big_scan_becomes_searchable_page_by_page(tmp_path: Path) -> None:
    """Each OCR run reads one page (its budget is spent after the first), so after run k the
    sentence on page k is findable and page k+1's is not yet."""
    root = tmp_path / "docs"
    root.mkdir()
    pages = [page_image(SENTENCES[i], i % 4, seed=i) for i in range(5)]
    (root / "stack.pdf").write_bytes(image_pdf(pages))
    config = dataclasses.replace(Config(), ocr=OcrConfig(seconds_per_run=0.0))
    engine = Engine(tmp_path / "data", config)
    store = engine.store
    with OcrStage(lambda: store, config, tmp_path / "data" / "cache") as stage:
        indexer = Indexer(store, config, engine.tokenizer, extract=stage.extract)
        stage.hold = True  # the first pass only records the text layer: none here
        indexer.index_folders([root])
        stage.hold = False
        walkers = {fid: FolderWalker(Path(p), config.walk) for fid, p, _ in store.folders()}
        for run in range(1, 6):
            assert stage.requeue() == 1
            indexer.index_queued(next_batch(store.conn, 10), walkers)
            found = engine.search("quarterly invoice harbour" if run == 1 else
                                  " ".join(SENTENCES[run - 1].split()[1:4]), mode="keyword")
            assert found.results and found.results[0].best.page == run
            left = ocr_pending.backlog(store.conn)
            assert (left.pages_done, left.pages_total) == ((run, 5) if run < 5 else (0, 0))
            if run < 5:
                later = engine.search(" ".join(SENTENCES[run].split()[1:4]), mode="keyword")
                assert all(r.best.page != run + 1 for r in later.results)
        assert stage.requeue() == 0 and stage.pages_read == 5
    engine.close()


def test_pictures_waiting_for_ocr_are_read_two_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two text children there are two OCR children: while one picture is read, the next
    one is read beside it (the tail of `dowse index` kept a core idle with one), and each
    picture's words are still found in it."""
    root = tmp_path / "docs"
    root.mkdir()
    for n in range(4):
        page_image(SENTENCES[n], n % 4, seed=n).save(root / f"scan{n}.png")
    config = dataclasses.replace(Config(), extract=dataclasses.replace(Config().extract,
                                                                       workers=2))
    engine = Engine(tmp_path / "data", config)
    store = engine.store
    runs: list[tuple[float, float, str]] = []
    read = OcrPool._read

    def timed(self: OcrPool, source: Path) -> object:
        began = time.monotonic()
        try:
            return read(self, source)
        finally:
            runs.append((began, time.monotonic(), source.name))

    monkeypatch.setattr(OcrPool, "_read", timed)
    with OcrStage(lambda: store, config, tmp_path / "data" / "cache") as stage:
        indexer = Indexer(store, config, engine.tokenizer, extract=stage.extract,
                          prefetch=stage.prefetch)
        stage.hold = True
        indexer.index_folders([root])
        stage.hold = False
        walkers = {fid: FolderWalker(Path(p), config.walk) for fid, p, _ in store.folders()}
        assert stage.requeue() == 4
        summary = indexer.index_queued(next_batch(store.conn, 10), walkers)
        assert summary.failed == [], summary.failed
        assert len(stage._ocr.pids) == 2
    assert sorted(name for *_, name in runs) == [f"scan{n}.png" for n in range(4)]
    assert any(a[0] < b[1] and b[0] < a[1] for a in runs for b in runs if a is not b), runs
    for n in range(4):
        found = engine.search(" ".join(SENTENCES[n].split()[1:4]), mode="keyword")
        assert found.results and found.results[0].best.path.endswith(f"scan{n}.png")
    engine.close()


@pytest.mark.model
def test_search_by_meaning_finds_the_scanned_page(tmp_path: Path) -> None:
    root = build_folder(tmp_path / "docs")
    engine = Engine(tmp_path / "data")
    engine.index([root])
    for query, name, page in (
        ("proof that I bought snow tires for the car", "receipt.png", 1),
        ("when should the musical instrument be serviced again", "fax.tiff", 2),
    ):
        best = engine.search(query, mode="semantic").results[0].best
        assert (best.path, best.page) == (str(root / name), page), query
    engine.close()


@pytest.mark.slow
def test_a_scanned_pdf_of_300_pages_stays_in_its_limits(tmp_path: Path) -> None:
    """`make test-slow`: the hostile case of a huge scan. Every run stays inside its time
    limit (no run fails), the OCR child's peak memory stays small, and every page ends up
    searchable on its own page number."""
    root = tmp_path / "docs"
    root.mkdir()
    style = Style(fonts()[0], 18, 0.5, 10)
    pages = [render([f"Ledger page {n} of the harbour archive"], style, width=700, seed=n)
             for n in range(1, 301)]
    (root / "ledger.pdf").write_bytes(image_pdf(pages))
    config = dataclasses.replace(Config(), ocr=OcrConfig(seconds_per_run=10.0))
    engine = Engine(tmp_path / "data", config)
    store = engine.store
    with OcrStage(lambda: store, config, tmp_path / "data" / "cache") as stage:
        indexer = Indexer(store, config, engine.tokenizer, extract=stage.extract)
        indexer.index_folders([root])  # no queue here: read at once, one run
        walkers = {fid: FolderWalker(Path(p), config.walk) for fid, p, _ in store.folders()}
        runs, peak = 1, 0
        while stage.requeue():
            summary = indexer.index_queued(next_batch(store.conn, 10), walkers)
            assert summary.failed == [], summary.failed
            runs += 1
            for pid in stage._ocr.pids:
                status = Path(f"/proc/{pid}/status")
                if status.exists():
                    hwm = [line for line in status.read_text().splitlines() if "VmHWM" in line]
                    peak = max(peak, int(hwm[0].split()[1]) if hwm else 0)
        assert stage.pages_read == 300 and runs > 2
        assert peak < 1024 * 1024, f"OCR child peak RSS {peak} kB"
        print(f"300 pages in {runs} runs, {stage.seconds:.0f} s of OCR, "
              f"{stage.pages_read / stage.seconds:.2f} pages/s, child peak RSS {peak // 1024} MB")
    for n in (1, 150, 300):
        hit = engine.search(f"ledger page {n}", mode="keyword").results[0].best
        assert hit.page == n or f"page {n} " in hit.text + " "
    engine.close()
