"""The OCR engine Dowse did not choose, read the same way for the comparison in ocr_throughput.

rapidocr-onnxruntime (PP-OCRv4 models inside its wheel) is not a Dowse dependency; install it
into the venv (`pip install rapidocr-onnxruntime==1.4.4`) for its rows to appear.
"""

from __future__ import annotations

import importlib.util
import statistics
from typing import Any

from PIL import Image

# Where two characters' centres are further apart than this many times the line's median
# pitch, the PP-OCRv4 Chinese/English model has dropped a space ("agreementbefore"): the best
# of 1.3 to 2.0 on these pages.
RESPACE_PITCH = 1.45


def rapidocr_available() -> bool:
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


class RapidReader:
    """RapidOCR as shipped (`tuned=False`), or with the angle classifier off (it turned whole
    lines upside down on these pages) and dropped spaces put back (`tuned=True`)."""

    def __init__(self, threads: int, tuned: bool) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.engine: Any = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
        self.tuned = tuned

    def read(self, image: Image.Image) -> str:
        import numpy as np

        result, _ = self.engine(
            np.asarray(image.convert("RGB")), use_cls=not self.tuned, return_word_box=self.tuned
        )
        lines = result or []
        return "\n".join(_respaced(line) if self.tuned else str(line[1]) for line in lines)


def _respaced(line: list[Any]) -> str:
    text, boxes, chars = str(line[1]), line[3], line[4]
    if "".join(chars) != text or len(boxes) != len(chars):
        return text
    centres = [(min(p[0] for p in b) + max(p[0] for p in b)) / 2 for b in boxes]
    pitches = [
        centres[i + 1] - centres[i] for i in range(len(chars) - 1)
        if not chars[i].isspace() and not chars[i + 1].isspace()
    ]
    if len(pitches) < 3:
        return text
    pitch = statistics.median(pitches)
    out = [chars[0]]
    for i in range(1, len(chars)):
        both = not chars[i].isspace() and not chars[i - 1].isspace()
        if both and centres[i] - centres[i - 1] > RESPACE_PITCH * pitch:
            out.append(" ")
        out.append(chars[i])
    return "".join(out)
