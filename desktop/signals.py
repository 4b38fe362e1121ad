"""Emitting Qt signals and running their slots safely on every PySide6 this app may meet."""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

F = TypeVar("F", bound=Callable[..., None])


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


def guarded(log: logging.Logger, owner: str) -> Callable[[F], F]:
    """A decorator for slots that logs a bug (as "<owner>: <slot> failed") instead of raising
    it into the Qt event loop."""

    def decorate(slot: F) -> F:
        @functools.wraps(slot)
        def wrapper(*args: Any) -> None:
            try:
                slot(*args)
            except Exception:
                log.exception("%s: %s failed", owner, slot.__name__)

        return wrapper  # type: ignore[return-value]

    return decorate
