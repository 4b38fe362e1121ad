"""Pictures of pages with known sentences on them, drawn with Pillow, for OCR tests and benchmarks.

Each page is drawn in a real font at a given size, turned by a few degrees and speckled with
noise, the way a scanner or a phone camera leaves a page; its sentences are what OCR should
read back.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SENTENCES = (
    "The quarterly invoice for the harbour crane was paid on the ninth of March.",
    "Please return the signed lease agreement before the end of the month.",
    "Our warranty covers the dishwasher motor for five years from delivery.",
    "The dentist moved the appointment to Thursday afternoon at half past three.",
    "Keep this receipt as proof of purchase for the winter tyres.",
    "The insurance claim number for the flooded basement is listed below.",
    "Meeting notes: the library roof repair will start in early October.",
    "Your parking permit for the north garage expires next spring.",
    "The gas meter reading was taken by the technician on Monday morning.",
    "Vaccination record for the family dog, including the rabies booster.",
    "The school trip to the glass museum costs twelve euros per pupil.",
    "This certificate confirms that the boiler passed its annual safety check.",
    "Tax statement for the savings account held at the cooperative bank.",
    "The piano tuner recommends a second visit after the heating season.",
    "Shipping label for the returned bicycle helmet, tracking code attached.",
    "Minutes of the tenants association: the laundry room gets new machines.",
    "The orchard lease allows grazing sheep between the apple trees.",
    "Pay slip for November shows the holiday bonus and the pension contribution.",
    "Instructions for resetting the router are printed on the bottom sticker.",
    "The notary will witness the signatures on the house purchase contract.",
    "Prescription for reading glasses with a slight correction for astigmatism.",
    "The electrician replaced the fuse box and labelled every circuit.",
    "Membership card for the rowing club, valid for the summer season only.",
    "A photograph of the whiteboard from the project kickoff on Friday.",
)

FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
)


@dataclass(frozen=True)
class Style:
    font: str  # a font file, or "" for Pillow's built-in scalable font
    size: int  # pixels
    angle: float  # degrees, counter-clockwise
    noise: float  # standard deviation of the grey-level noise

    @property
    def label(self) -> str:
        name = Path(self.font).stem if self.font else "Pillow default"
        return f"{name} {self.size}px, {self.angle:+.1f}°, noise {self.noise:g}"


def fonts() -> list[str]:
    """The font files present here, or just Pillow's own font where none is installed."""
    found = [f for f in FONT_FILES if Path(f).is_file()]
    return found or [""]


def styles(count: int, seed: int = 7) -> list[Style]:
    """`count` page styles cycling through the fonts, sizes from 16 to 30 px, turned up to
    3 degrees either way, with noise of 8 to 30 grey levels."""
    rng = random.Random(seed)
    have = fonts()
    return [
        Style(have[i % len(have)], rng.choice((16, 18, 20, 24, 28, 30)),
              round(rng.uniform(-3.0, 3.0), 1), rng.choice((8, 15, 22, 30)))
        for i in range(count)
    ]


def _font(style: Style) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if style.font:
        return ImageFont.truetype(style.font, style.size)
    return ImageFont.load_default(style.size)


def render(lines: Sequence[str], style: Style, width: int = 1000, seed: int = 0) -> Image.Image:
    """A greyscale page holding `lines`, one per line, drawn in `style`."""
    font = _font(style)
    pitch = int(style.size * 1.8)
    margin = max(24, style.size * 2)
    page = Image.new("L", (width, margin * 2 + pitch * len(lines)), 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * pitch), line, font=font, fill=20)
    if style.angle:
        page = page.rotate(style.angle, resample=Image.Resampling.BICUBIC, expand=True,
                           fillcolor=255)
    page = page.filter(ImageFilter.GaussianBlur(0.6))
    if style.noise:
        rng = np.random.default_rng(seed)
        grey = np.asarray(page, dtype=np.float32) + rng.normal(0, style.noise, page.size[::-1])
        page = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    return page


def wrap(sentences: Sequence[str], style: Style, width: int = 1000) -> list[str]:
    """The sentences as lines that fit the page at `style`'s font size."""
    font = _font(style)
    usable = width - 2 * max(24, style.size * 2)
    lines: list[str] = []
    current = ""
    for word in " ".join(sentences).split():
        candidate = f"{current} {word}".strip()
        if current and font.getlength(candidate) > usable:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def photo(size: tuple[int, int] = (480, 320), seed: int = 3) -> Image.Image:
    """A picture with no words on it: soft colour gradients and blobs, like a holiday photo."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.stack([90 + 80 * y / h, 140 + 60 * y / h, 230 - 90 * y / h], axis=-1)
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(h / 2, h), rng.uniform(30, 120)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        sky = sky * (1 - blob) + blob * rng.uniform(20, 160, size=3)
    sky += rng.normal(0, 6, sky.shape)
    return Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8), "RGB").filter(
        ImageFilter.GaussianBlur(1.5)
    )


def image_pdf(pages: Sequence[Image.Image]) -> bytes:
    """A PDF whose pages are only these pictures: no text layer, as a copier makes them."""
    buffer = io.BytesIO()
    first, *rest = [p.convert("RGB") for p in pages]
    first.save(buffer, "PDF", resolution=150.0, save_all=True, append_images=rest)
    return buffer.getvalue()
