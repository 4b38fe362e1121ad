"""Finding and starting the engine process from the desktop: its socket, token and log."""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.serve.runtime import ENGINE_LOG, INFO_FILE, TOKEN_FILE


def read_target(data_dir: Path) -> tuple[str, str] | None:
    """The live engine's socket path and token; None while they are not written yet."""
    try:
        info = json.loads((data_dir / INFO_FILE).read_text(encoding="utf-8"))
        token = (data_dir / TOKEN_FILE).read_text(encoding="utf-8").strip()
        path, pid = info["socket"], info["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(path, str) or type(pid) is not int or not process_alive(pid):
        return None  # left by an engine that died; the one holding the lock writes anew
    return path, token


def spawn_engine(command: list[str], data_dir: Path) -> int:
    """Start the engine in its own session with output to engine.log; its pid."""
    # Not QProcess.startDetached(): PySide6 6.12 returns only a bool from it, no pid, so an
    # engine that exits at start could not be told apart. Not subprocess.Popen: its object
    # warns (ResourceWarning) when dropped while the engine, meant to outlive it, still runs.
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return os.posix_spawnp(command[0], command, dict(os.environ), setsid=True, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(data_dir / ENGINE_LOG),
         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ])


def log_tail(data_dir: Path, lines: int = 5) -> str:
    try:
        text = (data_dir / ENGINE_LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no engine.log)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(engine.log is empty)"


def process_alive(pid: int) -> bool:
    try:  # our own child (an engine we started): collect its exit status if it has exited
        return os.waitpid(pid, os.WNOHANG)[0] == 0
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie whose parent has not reaped it yet is dead too
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
