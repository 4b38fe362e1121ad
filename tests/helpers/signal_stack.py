"""Reads this thread's alternate signal stack, which a native library can leave pointing at
memory it has unmapped (then the next signal with a Python handler kills the process)."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

_SS_DISABLE = 2  # Linux's value, on every architecture


class _Stack(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int),
                ("ss_size", ctypes.c_size_t)]


def _sigaltstack(new: _Stack | None) -> _Stack:
    old = _Stack()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.sigaltstack(ctypes.byref(new) if new is not None else None, ctypes.byref(old)) != 0:
        raise OSError(ctypes.get_errno(), "sigaltstack")
    return old


def _mapped(address: int) -> bool:
    for line in Path("/proc/self/maps").read_text().splitlines():
        low, high = (int(end, 16) for end in line.split()[0].split("-"))
        if low <= address < high:
            return True
    return False


def unmapped_alternate_stack() -> str:
    """Why this thread's alternate signal stack is unusable, or "" when it is fine or off.
    Linux only; elsewhere always ""."""
    if not sys.platform.startswith("linux"):
        return ""
    current = _sigaltstack(None)
    if current.ss_flags & _SS_DISABLE or not current.ss_sp or _mapped(current.ss_sp):
        return ""
    return (f"this thread's alternate signal stack ({current.ss_size} bytes at "
            f"{current.ss_sp:#x}) is unmapped memory")


def disable_alternate_stack() -> None:
    """Handlers run on the thread's own stack again (faulthandler's stack is not put back)."""
    _sigaltstack(_Stack(None, _SS_DISABLE, 0))
