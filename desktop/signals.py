"""Emitting Qt signals safely on every PySide6 this app may meet."""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal


def emit_signal(signal: Any, *args: Any) -> None:
    """Emit, making up for PySide6 6.12.0's SignalInstance.emit(), which returns True without
    a new reference: every call drops one reference to True, until CPython 3.11 aborts with
    "bool_dealloc: deallocating True or False" after a few thousand emits."""
    if signal.emit(*args) is True and _emit_steals_true():
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))


@functools.cache
def _emit_steals_true() -> bool:
    class Probe(QObject):
        probed = Signal()

    probe = Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.probed.emit()
    stolen = before - sys.getrefcount(True)
    for _ in range(max(stolen, 0)):  # give back what the probe itself took
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return stolen >= 8
