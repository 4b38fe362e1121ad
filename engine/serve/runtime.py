"""Where a running engine can be found: its lock, info and token files, and its socket."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
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
