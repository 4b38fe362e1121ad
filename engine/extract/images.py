"""Pictures (PNG, JPEG, TIFF, WebP, BMP, GIF): checked cheaply here, read later by OCR.

The text extractor only opens an image's header: the words are read by the OCR pass
(engine/extract/scanned.py), which runs after text-bearing files, so a folder of photos never
holds up the documents beside it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from engine.extract.base import ExtractError, UnsupportedFile, register
from engine.extract.regions import OcrExtracted

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp", ".gif")
IMAGE_MIMES = ("image/png", "image/jpeg", "image/tiff", "image/webp", "image/bmp", "image/gif")
# Formats whose extra frames are pages (a fax, a scanned stack); in others they are animation.
PAGED_FORMATS = frozenset({"TIFF"})
# Frames of one multi-page TIFF that count as pages; a file claiming more is read this far.
MAX_FRAMES = 2000
# Pictures too small to hold a word Tesseract can read are not sent to OCR: icons (under this
# many pixels both ways: a 16 x 16 toolbar icon would hold two letters) and rules or spacers
# (under MIN_SIDE one way). Each cost a Tesseract run for nothing, after every text file: 300
# icons of 16 x 16 took a keyword-only index from 1 s to 14 s (BENCHMARKS.md, folder-index). A
# web project or an app's resources hold thousands; python3-doc has four, 11 and 16 px square.
MAX_ICON_SIDE = 24
MIN_SIDE = 8


def frame_count(image: object) -> int:
    """Pages in an opened image: its frames for a TIFF, else one."""
    if getattr(image, "format", None) in PAGED_FORMATS:
        return max(1, min(int(getattr(image, "n_frames", 1)), MAX_FRAMES))
    return 1


@register(*IMAGE_SUFFIXES, mimes=IMAGE_MIMES)
def extract_image(path: Path) -> OcrExtracted:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Size is judged by the OCR pass against its own limit, from the header alone.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                pages = frame_count(image)
                width, height = image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise ExtractError(f"corrupt image: {exc}") from exc
    if max(width, height) < MAX_ICON_SIDE or min(width, height) < MIN_SIDE:
        raise UnsupportedFile(f"no text: {width}×{height} pixels is too small to hold words")
    return OcrExtracted("", "image", page_starts=(0,) * pages, ocr_pages=pages)


def image_page_png(path: Path, page: int, width: int) -> tuple[bytes, int, int]:
    """Page `page` (1-based: a TIFF's frame) of an image as PNG at most `width` pixels wide,
    with its size: what a preview shows beside the OCR regions (engine/search/regions.py)."""
    import io

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            image.seek(max(0, min(page, frame_count(image)) - 1))
            image.draft("RGB", (width, width * 4))
            picture = image.convert("RGB")
    if picture.width > width:
        picture.thumbnail((width, round(picture.height * width / picture.width) or 1))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    return buffer.getvalue(), picture.width, picture.height
