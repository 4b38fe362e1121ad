"""Where Dowse's long-running processes log: a rotating file in the user's state folder."""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import sys
import warnings
from pathlib import Path
from typing import cast

import platformdirs

from engine.private_files import FILE_MODE, open_private, private_dir

LOG_DIR_ENV = "DOWSE_LOG_DIR"
# Debug logging: also records what people searched for and text the engine or app handled.
# Off unless this is set to 1 or `[log] debug = true` is in config.toml.
DEBUG_ENV = "DOWSE_DEBUG_LOG"
# Pass as `extra=` on a record that carries content (a query, passage text, a message that
# may hold either): it reaches a log only while debug logging is on. No other record may.
PRIVATE = {"private": True}
# One file per role: two processes rotating one file would rename it under each other.
LOG_FILES = {"serve": "engine.log", "gui": "gui.log"}
MAX_BYTES = 1024 * 1024
BACKUP_COUNT = 3
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
_CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"


def log_dir() -> Path:
    """$DOWSE_LOG_DIR, else the platform's per-user log folder (~/.local/state/dowse/log)."""
    configured = os.environ.get(LOG_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Path(platformdirs.user_log_dir("dowse", appauthor=False))


def log_path(command: str) -> Path | None:
    """The rotating log file of `dowse COMMAND`; None for commands that log to stderr only."""
    name = LOG_FILES.get(command)
    return log_dir() / name if name else None


def debug_logging(configured: bool = False) -> bool:
    """Whether debug logging is on: `[log] debug` in config.toml, or $DOWSE_DEBUG_LOG=1."""
    return configured or os.environ.get(DEBUG_ENV, "") == "1"


def configure_logging(command: str, verbose: bool, debug: bool = False) -> Path | None:
    """Log warnings (everything with -v) to stderr, and `serve`/`gui` also to a rotating file.

    Records marked PRIVATE are dropped unless `debug` (debug logging) is on; -v alone adds
    detail, never content. Returns the file in use, or None. A log folder that cannot be
    written is said on stderr and skipped: logging is never a reason not to start.
    """
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a set-up made before ours (pytest's) wins
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(_CONSOLE_FORMAT))
        console.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
        if not debug:
            console.addFilter(_drop_private)
        root.addHandler(console)
        root.setLevel(console.level)
    path = log_path(command)
    if path is None:
        return None
    if any(_writes_to(handler, path) for handler in root.handlers):
        return path
    try:
        private_dir(path.parent)
        if LOG_DIR_ENV not in os.environ and path.parent.name == "log":
            private_dir(path.parent.parent)  # the state folder, ~/.local/state/dowse
        handler = _PrivateRotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8",
            errors="backslashreplace",  # a file name that is not UTF-8 is logged, not lost
        )
    except OSError as exc:
        logging.getLogger(__name__).warning(
            "cannot write the log file %s (%s); logging to stderr only", path, exc
        )
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.DEBUG if verbose or debug else logging.INFO)
    if not debug:
        handler.addFilter(_drop_private)
    root.addHandler(handler)
    root.setLevel(min(root.level, handler.level))
    return path


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Opens its file, and each new one after a rotation, as 0600: logs name the files read."""

    def _open(self) -> io.TextIOWrapper:
        for old in Path(self.baseFilename).parent.glob(Path(self.baseFilename).name + ".*"):
            with contextlib.suppress(OSError):
                old.chmod(FILE_MODE)  # rotated files, from before Dowse made them private
        fd = open_private(Path(self.baseFilename), os.O_WRONLY | os.O_APPEND)
        stream = os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)
        return cast(io.TextIOWrapper, stream)


def _drop_private(record: logging.LogRecord) -> bool:
    return not getattr(record, "private", False)


def _writes_to(handler: logging.Handler, path: Path) -> bool:
    return isinstance(handler, logging.FileHandler) and handler.baseFilename == str(
        path.absolute()
    )
