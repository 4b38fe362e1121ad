"""Starts the engine processes the link launches, watches each until it listens, and reaps them,
so the link itself only has to speak to an engine."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from desktop.engine_process import log_tail, process_alive, spawn_engine
from desktop.signals import guarded

log = logging.getLogger(__name__)
_guarded = guarded(log, "engine link")

SPAWN_TIMEOUT_S = 60.0  # how long an engine we started may take to listen
BACKOFF_MS = (200, 500, 1000, 2000, 5000)  # between reconnection attempts; the last repeats
REAP_INTERVAL_MS = 1000  # how often to collect the exit status of engines we started


class EngineSpawner(QObject):
    """Engines started for one data dir: the one not listening yet, and all to reap on exit."""

    def __init__(self, data_dir: Path, command: list[str] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._data_dir = data_dir
        self._command = command or [
            sys.executable, "-m", "engine.cli", "serve", "--data-dir", str(data_dir),
        ]
        self._starting_pid: int | None = None  # an engine we started that does not listen yet
        self._start_deadline = 0.0
        self._children: set[int] = set()  # engines we started, to reap when they exit
        self._reap_timer = QTimer(self, interval=REAP_INTERVAL_MS)
        self._reap_timer.timeout.connect(self._on_reap_timer_timeout)

    @property
    def starting(self) -> bool:
        """An engine we started has not been reached yet."""
        return self._starting_pid is not None

    def spawn(self) -> str | None:
        """Start an engine; why it could not be started, or None."""
        try:
            pid = spawn_engine(self._command, self._data_dir)
        except OSError as exc:
            return f"cannot start the engine ({self._command[0]}): {exc}"
        log.info("engine link: started the engine (pid %d) for %s", pid, self._data_dir)
        self._starting_pid = pid
        self._start_deadline = time.monotonic() + SPAWN_TIMEOUT_S
        self._children.add(pid)
        self._reap_timer.start()
        return None

    def start_problem(self) -> str | None:
        """Why the engine we started will not come up, or None while it still may."""
        if self._starting_pid is not None and not process_alive(self._starting_pid):
            return "the engine exited at start: " + log_tail(self._data_dir)
        if time.monotonic() > self._start_deadline:
            return f"the engine did not start within {SPAWN_TIMEOUT_S:g} s"
        return None

    def forget_start(self) -> None:
        """The engine we started was reached, or given up on: stop watching its start."""
        self._starting_pid = None

    def close(self) -> None:
        """Stop reaping on a timer, after collecting an engine we started if it has exited."""
        self._reap_timer.stop()
        self._on_reap_timer_timeout()

    @_guarded
    def _on_reap_timer_timeout(self) -> None:
        self._children = {pid for pid in self._children if process_alive(pid)}
        if not self._children:
            self._reap_timer.stop()


class Backoff:
    """The growing pause between reconnection attempts, reset once an engine welcomes us."""

    def __init__(self, steps_ms: tuple[int, ...] = BACKOFF_MS) -> None:
        self._steps_ms = steps_ms
        self._step = 0

    def next_ms(self) -> int:
        ms = self._steps_ms[min(self._step, len(self._steps_ms) - 1)]
        self._step += 1
        return ms

    def reset(self) -> None:
        self._step = 0
