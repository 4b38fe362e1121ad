"""The peak resident set of a process and its descendants, from the kernel's own high-water
marks (VmHWM in /proc/PID/status), sampled while they run.

`os.wait4()`'s ru_maxrss cannot be used for this: Linux records the high-water mark of the
memory a process leaves at exec(), and a child started by vfork/posix_spawn leaves its
parent's. So a child of a pytest process that once held 2 GB reports 2 GB however little it
used (measured: a `python -c pass` child of a process holding 1.5 GB reported 1,514 MB).
VmHWM belongs to the exec'd program's own memory, so it does not have that flaw.
"""

from __future__ import annotations

import threading
from pathlib import Path

PROC = Path("/proc")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in (PROC / str(pid) / "task").iterdir():
            text = (task / "children").read_text()
            found += [int(p) for p in text.split()]
    except OSError:
        pass
    return found


def _hwm_kb(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class PeakRss(threading.Thread):
    """Samples `pid` and its descendants every `every` seconds until stop(); `peak_mb` is the
    largest high-water mark any one of them reached, as last seen."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self._seen: dict[int, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.every)

    def sample(self) -> None:
        pending = [self.pid]
        while pending:
            pid = pending.pop()
            kb = _hwm_kb(pid)
            if kb:
                self._seen[pid] = max(self._seen.get(pid, 0), kb)
            pending += _children(pid)

    def stop(self) -> float:
        self._halt.set()
        self.join()
        return self.peak_mb

    @property
    def peak_mb(self) -> float:
        return max(self._seen.values(), default=0) / 1024
