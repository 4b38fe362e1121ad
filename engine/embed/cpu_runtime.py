"""Chooses the CPU forward (OpenVINO int8, bf16 or fp32) that still agrees with fp32 at start-up.

int8 is kept only at a cosine of at least INT8_MIN_COSINE to fp32 on the calibration texts
(issue 15's bound; BENCHMARKS.md "embed-runtimes" has its SciFact nDCG@10 against fp32), bf16
at calibration.MIN_COSINE, fp32 at FP32_MIN_COSINE. A candidate that
misses falls back to the next (int8, then bf16 where the CPU has bf16 units, then fp32) with a
warning, and every verdict is cached as calibration.py caches the torch ones.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.embed import openvino_forward
from engine.embed.base import Vectors
from engine.embed.bert_fast import FastBert, supports
from engine.embed.calibration import (
    INT8_MIN_COSINE,
    MIN_COSINE,
    Verdict,
    VerdictCache,
    cache_key,
    folder_fingerprint,
    min_cosine,
)
from engine.embed.device import ISA_ENV, DeviceUnavailableError, Placement

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "openvino")
# OpenVINO's fp32 graph is the same arithmetic as torch's; it only has to agree as closely
# as the lean forward must.
FP32_MIN_COSINE = 0.9995
_THRESHOLDS = {"int8": INT8_MIN_COSINE, "bf16": MIN_COSINE, "fp32": FP32_MIN_COSINE}


def wants_openvino(runtime: str, device: str, model: Any, precision: str) -> bool:
    """Whether this encoder runs through OpenVINO: on CPUs, for a plain BERT, when installed.

    auto takes it for int8 only: on a quiet AMX machine torch's bf16 forward ran 2.7x ST fp32
    against OpenVINO bf16's 1.9x (OpenVINO won only while the machine was oversubscribed).
    """
    if runtime not in RUNTIMES:
        raise DeviceUnavailableError(f"unknown embed runtime {runtime!r}; use one of {RUNTIMES}")
    if runtime == "torch" or device != "cpu" or (runtime == "auto" and precision != "int8"):
        return False
    if not supports(model):
        if runtime == "openvino":
            log.warning("OpenVINO runs plain BERT encoders only here: using torch")
        return False
    if not openvino_forward.available():
        if runtime == "openvino":
            raise DeviceUnavailableError("embed.runtime is openvino but it is not installed")
        log.warning("embed precision int8 needs OpenVINO (pip install 'dowse[int8]')")
        return False
    return True


def candidates(placement: Placement) -> list[str]:
    """Precisions to try, best first: what was asked, then what stays accurate."""
    chain = {"int8": ["int8", "bf16", "fp32"], "bf16": ["bf16", "fp32"]}.get(
        placement.precision, ["fp32"]
    )
    if not placement.hardware and not placement.forced:
        chain = [p for p in chain if p != "bf16"]
    if placement.precision == "int8" and not placement.hardware:
        chain = [p for p in chain if p != "bf16"]  # emulated bf16 is slower than fp32
    if "int8" in chain and not openvino_forward.int8_available():
        log.warning("embed precision int8 needs NNCF (pip install 'dowse[int8]'): skipping it")
        chain.remove("int8")
    return chain


@dataclass(frozen=True)
class Choice:
    forward: openvino_forward.OpenVinoForward | None  # None: no OpenVINO precision held
    precision: str
    note: str  # why a precision was passed over; "" when the first one held
    verdict: Verdict | None


def choose_openvino(
    fast: FastBert,
    placement: Placement,
    model_name: str,
    folder: Path,
    cache_dir: Path | None,
    threads: int,
    encode_with: Callable[[Any], Vectors],
) -> Choice:
    """The first candidate whose calibration vectors agree with torch's fp32 forward.

    `encode_with(forward)` embeds the calibration texts through `forward` (None: torch fp32).
    """
    import openvino

    cache = VerdictCache(cache_dir)
    fingerprint = folder_fingerprint(folder)
    hardware = f"{placement.hardware or 'no bf16'}, {ISA_ENV}={os.environ.get(ISA_ENV, '')}"
    reference: Vectors | None = None
    skipped: list[str] = []
    for precision in candidates(placement):
        # int8's verdict depends on its activation groups: a new group size checks again.
        group = f" group {openvino_forward.DYNAMIC_QUANT_GROUP}" if precision == "int8" else ""
        key = cache_key(model_name, folder, "cpu", hardware,
                        f"{precision} openvino {openvino.__version__}{group}")
        verdict = cache.get(key)
        if verdict is not None and not verdict.passed:
            skipped.append(_failed(precision, verdict))
            continue
        forward = openvino_forward.OpenVinoForward(fast, fingerprint, cache_dir, precision,
                                                   threads)
        if verdict is None:
            if reference is None:
                reference = encode_with(None)
            cosine = min_cosine(reference, encode_with(forward))
            verdict = Verdict(cosine, cosine >= _THRESHOLDS[precision], from_cache=False)
            cache.put(key, verdict)
            log.info("OpenVINO %s vs fp32 on %d texts: min cosine %.5f", precision,
                     len(reference), cosine)
        if verdict.passed:
            note = "; ".join(skipped)
            if note:
                note = f"{note}; using {precision}"
                log.warning("encoder %s: %s", model_name, note)
            return Choice(forward, precision, note, verdict)
        skipped.append(_failed(precision, verdict))
    note = "; ".join(skipped) + "; using torch fp32" if skipped else ""
    if note:
        log.warning("encoder %s: %s", model_name, note)
    return Choice(None, "fp32", note, None)


def _failed(precision: str, verdict: Verdict) -> str:
    limit = _THRESHOLDS[precision]
    return (f"OpenVINO {precision} disagreed with fp32 "
            f"(min cosine {verdict.min_cosine:.4f} < {limit})")
