"""Picks the device and number format for the encoder, so speed comes without asking."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
CPU_ISAS = ("auto", "no-bf16")
ISA_ENV = "ONEDNN_MAX_CPU_ISA"  # read by torch's and OpenVINO's oneDNN at their first use
_no_bf16 = False  # set by apply_cpu_isa: this process takes the path of a CPU without bf16


class DeviceUnavailableError(RuntimeError):
    """The configured device or precision cannot be used on this machine."""


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu" | "cuda" | "mps"
    precision: str  # "fp32" | "bf16" | "fp16" | "int8"
    forced: bool  # the precision came from the config, not from auto-detection
    hardware: str  # "AMX", "AVX512-BF16", a GPU's name, or "" when nothing to say

    def describe(self) -> str:
        label = f"{self.device.upper()} {self.precision}"
        if not self.hardware or (self.device == "cpu" and self.precision == "fp32"):
            return label
        return f"{label} ({self.hardware})" if self.device == "cpu" else f"{label}, {self.hardware}"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:  # not Linux
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.partition(":")[2].split())
    return set()


def _torch_cpu_check(name: str) -> bool:
    # Private helpers in torch.cpu (2.3+); a missing one just means "ask /proc/cpuinfo".
    import torch

    check = getattr(torch.cpu, name, None)
    try:
        return bool(check()) if callable(check) else False
    except Exception:  # a probe, never a reason to fail start-up
        return False


def apply_cpu_isa(setting: str) -> None:
    """`no-bf16`: act as a CPU without bf16 units, and cap oneDNN at AVX2 (+VNNI, where the
    CPU has it, as laptops since 2021 do) so that neither AMX nor AVX-512 is used. Only
    oneDNN's kernels are capped, and only if it has not run yet in this process (torch's own
    vectorised ops follow ATEN_CPU_CAPABILITY, read when torch is imported)."""
    global _no_bf16
    if setting not in CPU_ISAS:
        raise DeviceUnavailableError(f"unknown embed cpu_isa {setting!r}; use one of {CPU_ISAS}")
    if setting == "no-bf16":
        _no_bf16 = True
        os.environ.setdefault(ISA_ENV, "AVX2_VNNI" if "avx_vnni" in _cpu_flags() else "AVX2")


def cpu_bf16_unit() -> str:
    """The CPU's bf16 matrix hardware ("AMX", "AVX512-BF16"), or "" when it has none.

    Without such units torch emulates bf16 and it is slower than fp32, so only these count.
    """
    if _no_bf16:
        return ""
    flags = _cpu_flags()
    if "amx_bf16" in flags or _torch_cpu_check("_is_amx_tile_supported"):
        return "AMX"
    if "avx512_bf16" in flags or _torch_cpu_check("_is_avx512_bf16_supported"):
        return "AVX512-BF16"
    return ""


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def choose_device(requested: str) -> str:
    import torch

    if requested not in DEVICES:
        raise DeviceUnavailableError(f"unknown embed device {requested!r}; use one of {DEVICES}")
    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available(torch) else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError("embed.device is cuda but torch sees no CUDA GPU")
    if requested == "mps" and not _mps_available(torch):
        raise DeviceUnavailableError("embed.device is mps but torch sees no Apple GPU")
    return requested


def choose_placement(device: str, precision: str) -> Placement:
    """Resolve "auto" settings: CUDA fp16, MPS fp32, CPU bf16 with bf16 units, else int8
    where OpenVINO is installed, else fp32."""
    import torch

    if precision not in PRECISIONS:
        raise DeviceUnavailableError(
            f"unknown embed precision {precision!r}; use one of {PRECISIONS}"
        )
    resolved = choose_device(device)
    if precision == "int8" and resolved != "cpu":
        raise DeviceUnavailableError(f"embed precision int8 is a CPU path, not for {resolved}")
    hardware = ""
    if resolved == "cuda":
        hardware = str(torch.cuda.get_device_name(torch.cuda.current_device()))
    elif resolved == "cpu":
        hardware = cpu_bf16_unit()
    if precision != "auto":
        return Placement(resolved, precision, True, hardware)
    if resolved == "cuda":
        chosen = "fp16"
    elif resolved == "cpu" and hardware:
        chosen = "bf16"
    elif resolved == "cpu" and int8_runtime_installed():
        # Most laptops: no bf16 units. fp32 runs at AVX2's arithmetic peak there (1.2x ST
        # fp32); OpenVINO's int8 ran 2.3x, SciFact semantic nDCG@10 0.681 against fp32's
        # 0.683 (BENCHMARKS.md "int8 quality"), and stays behind its start-up agreement check.
        chosen = "int8"
    else:
        chosen = "fp32"
    return Placement(resolved, chosen, False, hardware)


def int8_runtime_installed() -> bool:
    """OpenVINO and NNCF (the `int8` extra: pip install 'dowse[int8]'), found without
    importing them: the encoder imports them only if it takes the int8 path."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("openvino", "nncf"))


def torch_dtype(precision: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
