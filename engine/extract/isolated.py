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

try:
    import resource
except ImportError:  # Windows: no address-space limit, only the time limit
    resource = None  # type: ignore[assignment]

from engine.extract.base import Extracted, ExtractError, UnsupportedFile

log = logging.getLogger(__name__)

# Starting the child imports the extraction libraries; that is not the file's fault, so it gets
# its own, generous limit instead of the per-file one.
_START_TIMEOUT = 60.0
# How often the child checks that its parent is still alive.
_ORPHAN_POLL = 0.5
# How long close() waits for an idle child to leave on its own before killing it.
_CLOSE_GRACE = 2.0
_MB = 1024 * 1024
# The memory cap is never set closer than this above what the child maps at rest.
_MIN_HEADROOM = 256 * _MB
# The exit code of a child that ran out of memory and could not even say so.
_OUT_OF_MEMORY_EXIT = 75


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


def _limit_memory(max_memory: int | None) -> int | None:
    """Cap the child's address space (RLIMIT_AS), so a file that would need gigabytes gets a
    MemoryError here instead of swapping the desktop; returns the cap in force."""
    if not max_memory or resource is None:
        return None
    # Never below what the child already maps, or nothing at all could be read.
    cap = max(max_memory, _mapped_bytes() + _MIN_HEADROOM)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, ValueError) as exc:
        log.warning("cannot limit the extractor's memory: %s", exc)
        return None
    return cap


def _out_of_memory(cap: int | None) -> str:
    limit = f" ({cap // _MB:,} MB)" if cap else ""
    return f"reading it needs more memory than the extractor's limit{limit}"


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _serve(
    conn: Connection, target: str, max_bytes: int, parent_pid: int, max_memory: int | None = None
) -> None:
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
    # Limited once the libraries are loaded: the cap is for reading files, not for importing.
    cap = _limit_memory(max_memory)
    conn.send(("ready",))
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed its end or died
        reply: tuple[Any, ...]
        try:
            reply = ("ok", func(path, max_bytes))
        except MemoryError:
            # What ran out of memory may have left the libraries half-way: start afresh.
            try:
                conn.send(("out_of_memory", _out_of_memory(cap)))
            except Exception:
                os._exit(_OUT_OF_MEMORY_EXIT)  # the parent says why from the exit code
            return
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
    """Runs extract_file in a child process with a per-file time limit and, given
    `max_memory` (bytes), a cap on the child's address space."""

    def __init__(
        self,
        timeout: float,
        max_bytes: int,
        target: str = "engine.extract:extract_file",
        max_memory: int | None = None,
    ) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_memory = max_memory
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
        return self.call(path)

    def call(self, request: object) -> Extracted:
        """Like extract(), for a target that takes another picklable request than a path."""
        with self._lock:
            if self._process is not None and not self._process.is_alive():
                self._stop(kill=False)  # died while idle, killed from outside: not this file
            conn = self._conn or self._start()
            try:
                conn.send(request)
            except OSError:
                pass  # it died just now; _receive reads the EOF and says how
            try:
                reply = self._receive(conn, self._timeout, "extraction")
            except BaseException:
                # Interrupted (Ctrl+C) while waiting: the child would answer this file to the
                # next caller, so a half-finished exchange ends the child.
                self._stop(kill=True)
                raise
            if reply[0] == "out_of_memory":
                self._stop(kill=False)  # it leaves after saying so; the next file gets a new one
                raise ExtractError(str(reply[1]))
            return self._unpack(reply)

    def start_soon(self) -> None:
        """Start the child on a thread of its own, if none runs: the first call then does not
        wait for its imports (a call meanwhile waits for the start to end)."""
        def start() -> None:
            with self._lock:
                if self._conn is None:
                    try:
                        self._start()
                    except (ExtractError, OSError):
                        log.debug("the extractor did not start ahead; the first call says why")

        if self._conn is None:
            threading.Thread(target=start, name="dowse-extract-start", daemon=True).start()

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
            args=(child_end, self._target, self._max_bytes, os.getpid(), self._max_memory),
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
            if code == _OUT_OF_MEMORY_EXIT:
                raise ExtractError(_out_of_memory(self._max_memory)) from None
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
