"""The OCR stage on pages drawn with Pillow: fonts, sizes, a few degrees askew, noisy.

Tests that need the `tesseract` program skip, saying so, where it is not installed
(apt-get install tesseract-ocr); the layout, packing and deskew tests run everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from engine.config import OcrConfig
from engine.extract import UnsupportedFile, extract_file
from engine.extract.deskew import box_before_turn, skew_angle
from engine.extract.ocr import PageReader, has_words, parse_tsv, tesseract_command
from engine.extract.regions import OcrExtracted, Region, pack, passage_boxes, unpack
from engine.extract.scanned import OcrRequest, pages_needing_ocr, read_scanned
from tests.helpers.scans import SENTENCES, Style, fonts, image_pdf, photo, render, wrap

needs_tesseract = pytest.mark.skipif(
    tesseract_command() is None, reason="tesseract not installed (apt-get install tesseract-ocr)"
)
MB = 1024 * 1024


def page(sentences: tuple[str, ...], style: Style, seed: int = 0) -> Image.Image:
    return render(wrap(sentences, style, width=900), style, width=900, seed=seed)


def words_of(text: str) -> set[str]:
    return {w.strip(".,:;").lower() for w in text.split()}


# -- no Tesseract needed ------------------------------------------------------------------


def test_tsv_becomes_lines_and_paragraphs_with_word_boxes() -> None:
    header = "\t".join(
        "level page_num block_num par_num line_num word_num left top width height conf text".split()
    )
    rows = [
        "5\t1\t1\t1\t1\t1\t10\t10\t40\t10\t96\tSigned",
        "5\t1\t1\t1\t1\t2\t60\t10\t30\t10\t91\tlease",
        "5\t1\t1\t1\t2\t1\t10\t30\t50\t10\t90\tagreement",
        "5\t1\t1\t1\t2\t2\t70\t30\t50\t10\t12\t~~",  # too unsure: texture, not a word
        "5\t1\t2\t1\t1\t1\t10\t60\t40\t10\t95\tMarch",
    ]
    read = parse_tsv("\n".join([header, *rows]), (200, 100))
    assert read.text == "Signed lease\nagreement\n\nMarch"
    lease = read.words[1]
    assert read.text[lease.start : lease.end] == "lease"
    assert (lease.x0, lease.y0, lease.x1, lease.y1) == (0.3, 0.1, 0.45, 0.2)
    assert has_words(read)


def test_regions_pack_per_passage_and_come_back() -> None:
    regions = (Region(0, 5, 0.1, 0.1, 0.2, 0.2), Region(6, 11, 0.3, 0.1, 0.4, 0.2),
               Region(12, 20, 0.5, 0.5, 0.9, 0.6))
    blob = pack(regions, 6, 20)
    assert blob is not None and len(blob) == 2 * 16  # 16 bytes a word
    back = unpack(blob, start=6)
    assert [(r.start, r.end) for r in back] == [(6, 11), (12, 20)]
    assert back[1].x1 == pytest.approx(0.9, abs=1e-4)
    doc = OcrExtracted("hello world passage", "image", (0,), regions=regions, ocr_pages=1)
    assert passage_boxes(doc, 0, 5) is not None
    assert pack(regions, 100, 200) is None


@pytest.mark.parametrize("angle", [-2.5, -1.0, 1.5, 3.0])
def test_skew_is_measured_and_boxes_map_back(angle: float) -> None:
    style = Style(fonts()[0], 20, angle, 10)
    image = page(SENTENCES[:4], style)
    assert skew_angle(image.convert("L")) == pytest.approx(-angle, abs=0.3)
    # The page centre stays where it was whatever the turn.
    turned = (image.size[0] + 40, image.size[1] + 40)
    centre = (turned[0] / 2, turned[1] / 2, turned[0] / 2, turned[1] / 2)
    x0, y0, _, _ = box_before_turn(centre, turned, image.size, angle)
    assert (x0, y0) == pytest.approx((image.size[0] / 2, image.size[1] / 2))


def test_pdf_pages_with_next_to_no_text_need_ocr(tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(image_pdf([photo((200, 200)), photo((200, 200), seed=4)]))
    assert pages_needing_ocr(extract_file(pdf, 50 * MB)) == 2
    png = tmp_path / "a.png"
    photo((60, 40)).save(png)
    doc = extract_file(png, 50 * MB)  # the text child only opens the header
    assert isinstance(doc, OcrExtracted) and doc.ocr_pages == 1 and doc.text == ""


# -- Tesseract ----------------------------------------------------------------------------


@needs_tesseract
@pytest.mark.parametrize("index", range(4))
def test_sentences_are_read_in_several_fonts_sizes_and_angles(index: int) -> None:
    have = fonts()
    style = [
        Style(have[0], 18, 2.0, 25), Style(have[1 % len(have)], 24, -2.5, 15),
        Style(have[2 % len(have)], 16, 0.7, 8), Style("", 22, -1.2, 20),  # Pillow's own font
    ][index]
    sentences = SENTENCES[index * 3 : index * 3 + 3]
    read = PageReader(OcrConfig()).read(page(sentences, style, seed=index))
    wanted = words_of(" ".join(sentences))
    found = wanted & words_of(read.text)
    assert len(found) / len(wanted) >= 0.95, (style, read.text)
    assert len(read.words) >= len(wanted) * 0.9


@needs_tesseract
def test_a_photo_has_no_text_and_costs_little(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    photo((640, 480)).save(path, quality=85)
    with pytest.raises(UnsupportedFile, match="no text"):
        read_scanned(OcrRequest(path, OcrConfig(), tmp_path / "cache", 30.0), 50 * MB)
    # The cache remembers "no text", so the photo is never read again.
    cached = list((tmp_path / "cache" / "ocr").rglob("*.jsonl"))
    assert len(cached) == 1 and '"text": ""' in cached[0].read_text()


@needs_tesseract
def test_multi_page_tiff_and_image_pdf_carry_pages_and_boxes(tmp_path: Path) -> None:
    style = Style(fonts()[0], 20, 1.0, 10)
    pages = [page((SENTENCES[i],), style, seed=i) for i in (0, 5, 9)]
    tiff, pdf = tmp_path / "fax.tiff", tmp_path / "copier.pdf"
    pages[0].save(tiff, save_all=True, append_images=pages[1:])
    pdf.write_bytes(image_pdf(pages))
    for path in (tiff, pdf):
        doc = read_scanned(OcrRequest(path, OcrConfig(), None, 30.0), 50 * MB)
        assert doc.ocr_pages == doc.ocr_done == 3 and len(doc.page_starts) == 3
        assert doc.page_at(doc.text.index("harbour")) == 1, doc.text
        assert doc.page_at(doc.text.index("basement")) == 2, doc.text
        assert doc.page_at(doc.text.index("rabies")) == 3, doc.text
        assert doc.regions and all(0 <= r.x0 < r.x1 <= 1 for r in doc.regions)


@needs_tesseract
def test_runs_stop_at_their_budget_and_the_cache_resumes(tmp_path: Path) -> None:
    style = Style(fonts()[0], 20, 0.0, 8)
    pdf = tmp_path / "stack.pdf"
    pdf.write_bytes(image_pdf([page((SENTENCES[i],), style, seed=i) for i in range(4)]))
    request = OcrRequest(pdf, OcrConfig(), tmp_path / "cache", 0.0)  # one new page a run
    done = []
    for _ in range(4):
        doc = read_scanned(request, 50 * MB)
        done.append((doc.ocr_done, doc.ocr_fresh))
    assert done == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert doc.ocr_complete and "harbour crane" in doc.text
    again = read_scanned(request, 50 * MB)  # moved or saved again: same bytes, nothing read
    assert again.ocr_fresh == 0 and again.text == doc.text


@needs_tesseract
def test_an_image_over_the_size_limit_is_skipped_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    Image.new("L", (3000, 2000), 255).save(path)
    config = OcrConfig(max_image_megapixels=5.0)
    with pytest.raises(UnsupportedFile, match="6 megapixels > 5"):
        read_scanned(OcrRequest(path, config, None, 30.0), 50 * MB)


@pytest.mark.parametrize("size", [(16, 16), (11, 11), (23, 23), (800, 6), (5, 300)])
def test_an_icon_or_a_rule_is_skipped_without_ocr(tmp_path: Path, size: tuple[int, int]) -> None:
    path = tmp_path / "icon.png"
    Image.new("L", size, 0).save(path)
    width, height = size
    with pytest.raises(UnsupportedFile, match=f"no text: {width}×{height} pixels is too small"):
        extract_file(path, 50 * MB)


@pytest.mark.parametrize("size", [(24, 24), (200, 8), (8, 120)])
def test_a_picture_that_can_hold_a_word_waits_for_ocr(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    path = tmp_path / "label.png"
    Image.new("L", size, 255).save(path)
    doc = extract_file(path, 50 * MB)
    assert isinstance(doc, OcrExtracted) and doc.ocr_pages == 1 and pages_needing_ocr(doc) == 1


def test_a_file_named_like_an_image_that_is_none_is_corrupt(tmp_path: Path) -> None:
    from engine.extract import ExtractError

    path = tmp_path / "picture.png"
    path.write_bytes(b"\x00\x01not an image at all" * 10)
    with pytest.raises(ExtractError, match="corrupt image"):
        extract_file(path, 50 * MB)
