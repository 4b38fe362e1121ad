"""Run extraction in a child process, because C format libraries can hang or crash on a bad file."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from engine.extract.base import Extracted, ExtractError, UnsupportedFile

log = logging.getLogger(__name__)

# Starting the child imports the extraction libraries; that is not the file's fault, so it gets
# its own, generous limit instead of the per-file one.
_START_TIMEOUT = 60.0
# How often the child checks that its parent is still alive.
_ORPHAN_POLL = 0.5
# How long close() waits for an idle child to leave on its own before killing it.
_CLOSE_GRACE = 2.0


def _load_target(target: str) -> Callable[[Path, int], Extracted]:
    module_name, _, func_name = target.partition(":")
    func: Callable[[Path, int], Extracted] = getattr(
        importlib.import_module(module_name), func_name
    )
    return func


def _exit_when_orphaned(parent_pid: int) -> None:
    # A child stuck inside C code never reads the pipe's EOF, so a thread watches the parent.
    # (PR_SET_PDEATHSIG would be simpler but fires when the *thread* that started us exits.)
    while os.getppid() == parent_pid:
        time.sleep(_ORPHAN_POLL)
    os._exit(0)


def _internal(exc: BaseException) -> tuple[str, ...]:
    return ("internal", type(exc).__name__, str(exc), traceback.format_exc())


def _serve(conn: Connection, target: str, max_bytes: int, parent_pid: int) -> None:
    """The child's main loop: one path in, one reply out, until the parent goes away."""
    # Ctrl+C reaches the whole process group; the parent decides what stops, not us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):
        try:
            os.nice(10)  # extraction is background work; keep the desktop responsive
        except OSError:
            pass
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()
    try:
        func = _load_target(target)
    except Exception as exc:
        conn.send(_internal(exc))
        return
    conn.send(("ready",))
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed its end or died
        reply: tuple[Any, ...]
        try:
            reply = ("ok", func(path, max_bytes))
        except UnsupportedFile as exc:
            reply = ("unsupported", str(exc))
        except ExtractError as exc:
            reply = ("error", str(exc))
        except Exception as exc:
            reply = _internal(exc)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result would not pickle
            conn.send(_internal(exc))


def _raise_for(reply: tuple[Any, ...]) -> NoReturn:
    """Re-raise in the parent what the child caught: known errors as such, bugs with a log."""
    match reply:
        case ("unsupported", str(message)):
            raise UnsupportedFile(message)
        case ("error", str(message)):
            raise ExtractError(message)
        case ("internal", str(name), str(message), str(child_traceback)):
            log.error("bug in extractor process: %s: %s\n%s", name, message, child_traceback)
            raise ExtractError(f"internal error in extractor: {name}: {message}")
    raise ExtractError(f"internal error in extractor: unexpected reply {reply!r:.100}")


class IsolatedExtractor:
    """Runs extract_file in a child process with a per-file time limit."""

    def __init__(
        self, timeout: float, max_bytes: int, target: str = "engine.extract:extract_file"
    ) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._target = target
        self._lock = threading.Lock()
        self._process: SpawnProcess | None = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the running child, or None before the first file or after close()."""
        return self._process.pid if self._process is not None else None

    def extract(self, path: Path) -> Extracted:
        """Text and structure of `path`; ExtractError (or UnsupportedFile) says why not."""
        with self._lock:
            if self._process is not None and not self._process.is_alive():
                self._stop(kill=False)  # died while idle, killed from outside: not this file
            conn = self._conn or self._start()
            try:
                conn.send(path)
            except OSError:
                pass  # it died just now; _receive reads the EOF and says how
            try:
                reply = self._receive(conn, self._timeout, "extraction")
            except BaseException:
                # Interrupted (Ctrl+C) while waiting: the child would answer this file to the
                # next caller, so a half-finished exchange ends the child.
                self._stop(kill=True)
                raise
            return self._unpack(reply)

    def close(self) -> None:
        """Stop the child, if any; the next extract() would start a fresh one."""
        with self._lock:
            self._stop(kill=False)

    def __enter__(self) -> IsolatedExtractor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> Connection:
        # Never fork: the parent holds torch/OpenMP threads whose locks a forked child inherits.
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child_end, self._target, self._max_bytes, os.getpid()),
            name="dowse-extract",
            daemon=True,  # multiprocessing kills it at interpreter exit if close() was missed
        )
        process.start()
        child_end.close()  # so the child's death reads as EOF here
        self._process, self._conn = process, parent_end
        log.debug("started extractor process %s", process.pid)
        reply = self._receive(parent_end, _START_TIMEOUT, "extractor start")
        if reply != ("ready",):
            self._stop(kill=True)
            _raise_for(reply)  # the target could not be imported
        return parent_end

    def _receive(self, conn: Connection, timeout: float, what: str) -> tuple[Any, ...]:
        if not conn.poll(timeout):
            self._stop(kill=True)
            raise ExtractError(f"{what} timed out after {timeout:g} s")
        try:
            reply: tuple[Any, ...] = conn.recv()
        except (EOFError, OSError):
            code = self._stop(kill=False)
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            raise ExtractError(f"extractor crashed ({how})") from None
        return reply

    def _unpack(self, reply: tuple[Any, ...]) -> Extracted:
        if reply[0] == "ok" and isinstance(reply[1], Extracted):
            return reply[1]
        _raise_for(reply)

    def _stop(self, *, kill: bool) -> int | None:
        """End the child and return its exit code (negative for a signal), None if none ran."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()  # an idle child reads EOF and leaves
        if process is None:
            return None
        if kill:
            process.kill()
        process.join(_CLOSE_GRACE)
        if process.is_alive():
            process.kill()
            process.join()
        code = process.exitcode
        process.close()
        return code
