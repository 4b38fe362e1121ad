"""Finding and stopping the engine that an installed or bundled `dowse gui` started."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.helpers.engine_process import wait_for


def pid_gone(pid: int) -> bool:
    """Exited, or a zombie: an engine the GUI started is nobody's child once the GUI quits."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: pid_gone(pid), 20.0, f"process {pid} to stop")
    except ProcessLookupError:
        return
    except AssertionError:
        os.kill(pid, signal.SIGKILL)


def engine_pid(data_dir: Path) -> int | None:
    """The pid of the live engine serving `data_dir`, from the engine.json it writes."""
    try:
        pid = json.loads((data_dir / "engine.json").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None
    return pid if isinstance(pid, int) and not pid_gone(pid) else None


def engine_program(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
