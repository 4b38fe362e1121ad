"""Where Dowse's long-running processes log: a rotating file in the user's state folder."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import warnings
from pathlib import Path

import platformdirs

LOG_DIR_ENV = "DOWSE_LOG_DIR"
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


def configure_logging(command: str, verbose: bool) -> Path | None:
    """Log warnings (everything with -v) to stderr, and `serve`/`gui` also to a rotating file.

    Returns the file in use, or None. A log folder that cannot be written is said on stderr
    and skipped: logging is never a reason not to start.
    """
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a set-up made before ours (pytest's) wins
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(_CONSOLE_FORMAT))
        console.setLevel(logging.INFO if verbose else logging.WARNING)
        root.addHandler(console)
        root.setLevel(console.level)
    path = log_path(command)
    if path is None:
        return None
    if any(_writes_to(handler, path) for handler in root.handlers):
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
    except OSError as exc:
        logging.getLogger(__name__).warning(
            "cannot write the log file %s (%s); logging to stderr only", path, exc
        )
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(handler)
    root.setLevel(min(root.level, handler.level))
    return path


def _writes_to(handler: logging.Handler, path: Path) -> bool:
    return isinstance(handler, logging.FileHandler) and handler.baseFilename == str(
        path.absolute()
    )
