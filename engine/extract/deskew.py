"""Straighten a page photographed or scanned a few degrees askew, before OCR reads it.

Tesseract's page layout splits a line that slopes by two or three degrees into pieces and
reads them out of order (on the rendered test pages, a 2.7 degree turn cost whole lines). The
angle is found by projection: the ink's row profile is sharpest when the lines are level.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

MAX_ANGLE = 8.0  # degrees either way; a page turned further is not a slightly skewed page
MIN_ANGLE = 0.2  # below this, turning the page would only blur it
_SAMPLE_SIDE = 1000  # the angle is judged on a copy at most this big
_MAX_POINTS = 60_000


def skew_angle(grey: Image.Image) -> float:
    """Degrees to turn `grey` counter-clockwise (Image.rotate) so its lines are level."""
    import numpy as np

    small = grey.copy()
    small.thumbnail((_SAMPLE_SIDE, _SAMPLE_SIDE))
    pixels = np.asarray(small, dtype=np.float32)
    ink = pixels < min(128.0, float(pixels.mean()) * 0.6)
    ys, xs = np.nonzero(ink)
    if len(xs) < 50:
        return 0.0
    if len(xs) > _MAX_POINTS:
        pick = np.random.default_rng(0).choice(len(xs), _MAX_POINTS, replace=False)
        xs, ys = xs[pick], ys[pick]
    dx = xs - small.size[0] / 2
    dy = ys - small.size[1] / 2

    def sharpness(angle: float) -> float:
        t = math.radians(angle)
        rows = np.round(-dx * math.sin(t) + dy * math.cos(t)).astype(np.int64)
        counts = np.bincount(rows - rows.min())
        return float(np.dot(counts, counts))

    coarse = max(np.arange(-MAX_ANGLE, MAX_ANGLE + 0.01, 0.5), key=sharpness)
    fine = max(np.arange(coarse - 0.5, coarse + 0.51, 0.1), key=sharpness)
    return round(float(fine), 2)


def straightened(grey: Image.Image) -> tuple[Image.Image, float]:
    """`grey` turned level (grown to keep its corners), and the angle it was turned by."""
    from PIL import Image

    angle = skew_angle(grey)
    if abs(angle) < MIN_ANGLE:
        return grey, 0.0
    turned = grey.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    return turned, angle


def box_before_turn(
    box: tuple[float, float, float, float],
    turned_size: tuple[int, int],
    size: tuple[int, int],
    angle: float,
) -> tuple[float, float, float, float]:
    """A box in pixels of the turned page, as the box it covers on the page before turning."""
    if not angle:
        return box
    t = math.radians(angle)
    cos, sin = math.cos(t), math.sin(t)
    x0, y0, x1, y1 = box
    xs, ys = [], []
    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
        dx, dy = x - turned_size[0] / 2, y - turned_size[1] / 2
        xs.append(dx * cos - dy * sin + size[0] / 2)
        ys.append(dx * sin + dy * cos + size[1] / 2)
    return min(xs), min(ys), max(xs), max(ys)
