"""The writer thread's plumbing: a lower priority, and an inbox of commands handed over from
other threads and run in order on the writer's own."""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future

log = logging.getLogger(__name__)

WORKER_NICE = 10

Command = Callable[[], str]


def lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)
    except (AttributeError, OSError):  # not Linux: the thread keeps normal priority
        pass


class Inbox:
    """Commands for the writer, and its sleep: woken by a command, a notify, or stop()."""

    def __init__(self) -> None:
        self.cond = threading.Condition()  # also guards the writer's own shared state
        self._commands: deque[tuple[Command, Future[str]]] = deque()
        self.stopping = False
        # A notify() that came while the writer was busy, not asleep: its next wait() returns
        # at once. Without it, a change queued between the writer's last look at the queue
        # and its sleep waited for the next reconcile (minutes).
        self._woken = False

    def submit(self, command: Command) -> Future[str]:
        future: Future[str] = Future()
        with self.cond:
            self._commands.append((command, future))
            self.cond.notify_all()
        return future

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()

    def notify(self) -> None:
        """Wake the writer, now or at its next wait(); may be called holding `cond`."""
        with self.cond:
            self._woken = True
            self.cond.notify_all()

    def take(self) -> tuple[Command, Future[str]] | None:
        """The oldest command not yet run; call holding `cond`."""
        return self._commands.popleft() if self._commands else None

    def wait(self, timeout: float | None) -> None:
        """Sleep up to `timeout` seconds (None: until woken), unless a command waits."""
        with self.cond:
            if not self.stopping and not self._commands and not self._woken:
                self.cond.wait(timeout)
            self._woken = False

    def idle_while(
        self, waiting: Callable[[], bool], poll: float, refuse: Exception | None = None
    ) -> None:
        """Run commands as they come (they may fail, saying why) while `waiting()` holds; or,
        given `refuse`, answer each with that error instead of running it."""
        while waiting():
            with self.cond:
                if self.stopping:
                    return
                command = self.take()
            if command is not None and refuse is not None:
                command[1].set_exception(refuse)
            elif command is not None:
                run(*command)
            else:
                self.wait(poll)


def run(command: Command, future: Future[str]) -> None:
    try:
        future.set_result(command())
    except Exception as exc:
        if not isinstance(exc, ValueError | OSError):
            log.exception("engine command failed")
        future.set_exception(exc)
