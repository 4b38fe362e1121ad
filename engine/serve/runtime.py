"""Where a running engine can be found: its lock, info and token files, and its socket."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import platformdirs

LOCK_FILE = "engine.lock"
INFO_FILE = "engine.json"  # pid and socket path of the running engine
TOKEN_FILE = "engine.token"  # a fresh random token each start, readable by the owner only
ENGINE_LOG = "engine.log"  # where a background engine's log goes
RUNTIME_DIR_ENV = "DOWSE_RUNTIME_DIR"
_MAX_SOCKET_PATH = 100  # sun_path holds 104 to 108 bytes, depending on the OS


def runtime_dir() -> Path:
    """A private folder for sockets: $DOWSE_RUNTIME_DIR, the user runtime dir, else /tmp."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (a container, a cron job); the
        # fallbacks below are fine there.
        warnings.simplefilter("ignore")
        platform_dir = platformdirs.user_runtime_dir("dowse")
    candidates = [os.environ.get(RUNTIME_DIR_ENV), platform_dir]
    candidates.append(os.path.join(tempfile.gettempdir(), f"dowse-{os.getuid()}"))
    for candidate in candidates:
        if not candidate or len(candidate) > _MAX_SOCKET_PATH - 30:
            continue
        path = Path(candidate)
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            if path.stat().st_uid != os.getuid():
                continue  # someone else's folder in a shared /tmp
            os.chmod(path, 0o700)
            return path
        except OSError:
            continue
    raise OSError("no private folder for the engine's socket; set DOWSE_RUNTIME_DIR")


def socket_path(data_dir: Path) -> Path:
    """One socket per data dir, named by a hash of its path (sun_path is short)."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return runtime_dir() / f"engine-{digest}.sock"


def write_private(path: Path, text: str) -> None:
    """Write a file only the owner can read, replacing it atomically."""
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temp, path)


def engine_running(data_dir: Path) -> bool:
    """Whether an engine process holds the data dir's lock right now."""
    try:
        fd = os.open(data_dir / LOCK_FILE, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


SERVE_HOLDER = "dowse serve"  # what an engine writes in the lock it holds


class EngineAlreadyRunningError(RuntimeError):
    """Another engine process holds this data dir."""


class EngineLock:
    """An exclusive lock on the data dir, released by the OS if the process dies.

    Every process that writes the index holds it: `dowse serve`, and `dowse index` or
    `forget` run without an engine. Its holder (`holder` and pid) is written in the lock
    file, for the next one to find it (lock_holder)."""

    def __init__(self, data_dir: Path, holder: str = SERVE_HOLDER) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise EngineAlreadyRunningError(_describe_running(data_dir)) from None
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, f"{holder} (pid {os.getpid()})\n".encode(), 0)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)


def lock_holder(data_dir: Path) -> str:
    """Who holds (or last held) the data dir's lock, as EngineLock wrote it: for example
    "dowse index (pid 4242)"; "dowse serve" where the file names no one."""
    try:
        text = (data_dir / LOCK_FILE).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or SERVE_HOLDER


def _describe_running(data_dir: Path) -> str:
    holder = lock_holder(data_dir)
    if not holder.startswith(SERVE_HOLDER):
        return f"{holder} is writing the index in {data_dir}"
    try:
        info = json.loads((data_dir / INFO_FILE).read_text())
        return (
            f"an engine is already running for {data_dir} "
            f"(pid {info['pid']}, socket {info['socket']})"
        )
    except (OSError, ValueError, KeyError):
        return f"an engine is already running for {data_dir}"
