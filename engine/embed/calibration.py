"""The accuracy guard: a reduced-precision encoder is used only if it agrees with fp32."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.embed.base import Vectors
from engine.private_files import open_private, private_dir

log = logging.getLogger(__name__)

MIN_COSINE = 0.999
# int8 is kept at this agreement with fp32 (engine/embed/cpu_runtime.py); another path then
# needs to agree with the int8 encoder only as closely as int8 agrees with fp32.
INT8_MIN_COSINE = 0.99
CACHE_FILE_NAME = "precision_check.json"

_LONG_SCIENCE = (
    "Background: Chronic inflammation is associated with insulin resistance, yet the "
    "molecular links remain unclear. Methods: We followed 1,204 adults for 6.5 years, "
    "measuring C-reactive protein (CRP), interleukin-6 and fasting glucose every 12 months. "
    "Results: Participants in the highest CRP quartile had a 2.3-fold higher risk of type 2 "
    "diabetes (95% CI 1.7-3.1, p < 0.001) after adjustment for age, sex, BMI and smoking. "
) * 4
_LONG_PROSE = (
    "The river had risen overnight, and by morning the lower fields were a sheet of grey "
    "water broken only by fence posts and the tops of the hedges. Nobody in the village "
    "remembered a flood like it; the oldest farmer said his father had spoken of one, long "
    "ago, when the mill still turned and the bridge was made of timber. "
) * 5

# Varied on purpose: lengths from one word to past the usual 256-token limit, several
# scripts, code, numbers, and markup, because reduced precision fails first on outliers.
CALIBRATION_TEXTS: tuple[str, ...] = (
    "a",
    "tax return",
    "how do vaccines work?",
    "best way to cache HTTP responses in python",
    "Where did I save the invoice from the plumber last March?",
    "Aspirin reduces the risk of heart attack in people with diabetes.",
    "The meeting is moved to Thursday at 3pm; bring the quarterly figures.",
    "ERROR 2024-05-01T12:00:03Z worker-7 connection reset by peer (errno 104)",
    "def mean(xs: list[float]) -> float:\n    return sum(xs) / len(xs) if xs else 0.0",
    "SELECT name, COUNT(*) FROM orders GROUP BY name HAVING COUNT(*) > 10;",
    "| quarter | revenue | margin |\n|---|---|---|\n| Q1 | 1.2M | 14% |\n| Q2 | 1.5M | 17% |",
    "https://example.org/docs/v2/api?page=3&sort=desc#section-4.1",
    "Le chat dort sur le canapé pendant que la pluie tombe sur Paris.",
    "Die Bundesregierung hat heute neue Maßnahmen zum Klimaschutz beschlossen.",
    "東京の天気は明日晴れるでしょう。",
    "Мы встретимся у вокзала в семь часов вечера.",
    "🎉🎉 Congratulations!!! 🎉🎉 You did it — finally :)",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "the the the the the the the the the the the the the the the the",
    "Mitochondrial DNA copy number is reduced in patients with Parkinson's disease.",
    "Recipe: 200 g flour, 2 eggs, 300 ml milk, a pinch of salt. Whisk and rest for 30 minutes.",
    "Dear Ms Okafor, thank you for your letter of 12 June regarding the lease renewal.",
    "Quantum entanglement does not allow faster-than-light communication, because the "
    "measurement outcomes on each side are individually random.",
    "In 1854 John Snow traced a cholera outbreak in Soho to a single water pump on Broad "
    "Street, an early triumph of epidemiology.",
    "To reset the router, hold the button on the back for ten seconds until the light blinks "
    "orange, then wait two minutes before reconnecting.",
    "Gradient descent updates parameters in the direction opposite to the gradient of the "
    "loss; the learning rate controls the step size and too large a rate diverges.",
    "The committee finds that the applicant has not demonstrated a material change in "
    "circumstances since the previous decision, and the appeal is therefore dismissed.",
    "Photosynthesis converts light energy into chemical energy stored in glucose. " * 3,
    "Notes: - buy milk\n- call mum\n- renew passport (expires 2025-09)\n- fix bike brakes",
    "x = 3.14159; y = 2.71828; z = x * y  # 8.53973",
    _LONG_SCIENCE,
    _LONG_PROSE,
)


@dataclass(frozen=True)
class Verdict:
    min_cosine: float
    passed: bool
    from_cache: bool


def min_cosine(reference: Vectors, candidate: Vectors) -> float:
    """Smallest cosine between matching rows; 1.0 means identical directions."""
    ref = reference / np.maximum(np.linalg.norm(reference, axis=1, keepdims=True), 1e-12)
    cand = candidate / np.maximum(np.linalg.norm(candidate, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(ref * cand, axis=1)))


def folder_fingerprint(path: Path) -> str:
    """Names, sizes and modification times of the model's files: cheap, and changes on edit."""
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = item.stat()
        digest.update(f"{item.relative_to(path)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def cache_key(model_name: str, folder: Path, device: str, hardware: str, precision: str) -> str:
    import torch

    texts = hashlib.sha256("\x00".join(CALIBRATION_TEXTS).encode()).hexdigest()[:8]
    parts = (
        model_name,
        folder_fingerprint(folder),
        device,
        hardware,
        precision,
        f"torch {torch.__version__}",
        f"set {texts}",
    )
    return " | ".join(parts)


class VerdictCache:
    """Verdicts kept in one JSON file in the cache dir, so later start-ups skip the check."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.path = cache_dir / CACHE_FILE_NAME if cache_dir is not None else None

    def _read(self) -> dict[str, dict[str, object]]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable precision cache %s: %s", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Verdict | None:
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        cosine, passed = entry.get("min_cosine"), entry.get("passed")
        if not isinstance(cosine, float) or not isinstance(passed, bool):
            return None
        return Verdict(cosine, passed, from_cache=True)

    def put(self, key: str, verdict: Verdict) -> None:
        if self.path is None:
            return
        data = self._read()
        data[key] = {
            "min_cosine": verdict.min_cosine,
            "passed": verdict.passed,
            "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        try:
            private_dir(self.path.parent)
            tmp = self.path.with_suffix(".tmp")
            fd = open_private(tmp, os.O_WRONLY | os.O_TRUNC)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(json.dumps(data, indent=2, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only cache costs a re-check next time, nothing more
            log.warning("could not save precision check to %s: %s", self.path, exc)
